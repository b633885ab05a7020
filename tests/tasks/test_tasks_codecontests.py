"""CodeContests loading: the shared sample format and HF-style rows with test groups."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from btp.errors import BtpError
from btp.tasks import DatasetSpec, StdioTest, load_tasks

SAMPLE = Path("/work/shared/data/codecontests/codecontests_subset_stdio.justinchiu.jsonl")


def hf_row(name="1_A. Sum", **kw) -> dict:
    base = {
        "name": name, "description": "Print a+b.",
        "public_tests": {"input": ["1 2\n"], "output": ["3\n"]},
        "private_tests": {"input": ["2 2\n", "0 0\n"], "output": ["4\n", "0\n"]},
        "generated_tests": {"input": ["5 5\n"], "output": ["10\n"]},
        "solutions": {"language": [2, 3], "solution": ["int main(){}", "print(sum(map(int, input().split())))"]},
        "difficulty": 7, "time_limit": {"seconds": 2, "nanos": 500000000}, "memory_limit_bytes": 256000000,
    }
    return {**base, **kw}


def write(tmp_path, rows) -> str:
    p = tmp_path / "cc.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(p)


@pytest.mark.skipif(not SAMPLE.is_file(), reason=f"{SAMPLE} missing")
def test_sample_format():
    tasks = load_tasks(DatasetSpec("codecontests", path=str(SAMPLE)))
    assert len(tasks) == 300
    t = tasks[0]
    assert t.task_id == "codecontests/1041_e_tree_reconstruction_8858" and t.source == "codecontests"
    assert t.meta["difficulty"] == 11 and len(t.tests) == 10
    assert t.tests[0] == StdioTest("3\n1 2\n2 3", "NO")
    assert "## Testing" not in t.prompt and "run.sh" not in t.prompt and "Tree Reconstruction" in t.prompt
    with pytest.raises(BtpError, match="test groups cannot be chosen"):
        load_tasks(DatasetSpec("codecontests", path=str(SAMPLE), test_groups=("public",)))


def test_hf_rows_default_to_all_groups(tmp_path):
    (t,) = load_tasks(DatasetSpec("codecontests", path=write(tmp_path, [hf_row()])))
    assert [x.input for x in t.tests] == ["1 2\n", "2 2\n", "0 0\n", "5 5\n"]
    assert t.reference.startswith("print(") and t.meta["difficulty"] == 7
    assert t.meta["time_limit"] == 2.5 and t.meta["memory_limit_bytes"] == 256000000
    assert t.entry_point is None and t.task_id == "codecontests/1_A. Sum"


def test_hf_rows_choose_groups(tmp_path):
    path = write(tmp_path, [hf_row(), hf_row("2_B", public_tests=None, private_tests={"input": [], "output": []})])
    tasks = load_tasks(DatasetSpec("codecontests", path=path, test_groups=("public",)))
    assert [t.task_id for t in tasks] == ["codecontests/1_A. Sum"]  # 2_B has no public tests: skipped
    assert tasks[0].tests == (StdioTest("1 2\n", "3\n"),)
    two = load_tasks(DatasetSpec("codecontests", path=path, test_groups=("private", "generated")))
    assert [len(t.tests) for t in two] == [3, 1]
    with pytest.raises(BtpError, match="no test group 'hidden'"):
        load_tasks(DatasetSpec("codecontests", path=path, test_groups=("hidden",)))


def test_malformed_rows_name_file_and_line(tmp_path):
    path = write(tmp_path, [hf_row(), hf_row("x", public_tests={"input": ["1"], "output": []})])
    with pytest.raises(BtpError, match=rf"{path}:2: public_tests has 1 inputs but 0 outputs"):
        load_tasks(DatasetSpec("codecontests", path=path))
    path = write(tmp_path, [hf_row(), {"task_id": "CodeContests/0", "prompt": "statement only"}])
    with pytest.raises(BtpError, match=rf"{path}:2: not a CodeContests row"):
        load_tasks(DatasetSpec("codecontests", path=path))
    path = write(tmp_path, [{"name": "s", "problem_md": "# s", "tests": [{"input": "1"}]}])
    with pytest.raises(BtpError, match=rf"{path}:1: missing field 'output'"):
        load_tasks(DatasetSpec("codecontests", path=path))


def test_local_file_has_no_split(tmp_path):
    with pytest.raises(BtpError, match="cannot select split 'test'"):
        load_tasks(DatasetSpec("codecontests", path=write(tmp_path, [hf_row()]), split="test"))
