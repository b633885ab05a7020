"""MBPP loading: both formats, id-based splits, entry points, prompts, setup code, malformed rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from btp.errors import BtpError
from btp.tasks import DatasetSpec, load_tasks
from btp.tasks.mbpp import entry_point_of, signature_of

DATA = Path("/work/shared/data/mbpp")
ORIGINAL, SANITIZED = DATA / "mbpp.jsonl", DATA / "sanitized-mbpp.json"
needs_data = pytest.mark.skipif(not ORIGINAL.is_file(), reason=f"{ORIGINAL} missing")


def row(task_id=1, **kw) -> dict:
    base = {"task_id": task_id, "text": "Add one.", "code": "def inc(x):\r\n    return x + 1",
            "test_setup_code": "", "test_list": ["assert inc(1) == 2", "assert inc(2) == 3"],
            "challenge_test_list": ["assert inc(-1) == 0"]}
    return {**base, **kw}


def write(tmp_path, rows) -> str:
    p = tmp_path / "mbpp.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(p)


@needs_data
@pytest.mark.parametrize("split, n, lo, hi", [("test", 500, 11, 510), ("train", 464, 511, 974),
                                              ("validation", 90, 511, 600), ("prompt", 10, 1, 10),
                                              ("all", 974, 1, 974), (None, 974, 1, 974)])
def test_splits_by_task_id(split, n, lo, hi):
    tasks = load_tasks(DatasetSpec("mbpp", path=str(ORIGINAL), split=split))
    ids = [t.meta["id"] for t in tasks]
    assert len(tasks) == n and ids == sorted(ids) and (ids[0], ids[-1]) == (lo, hi)
    assert all(t.task_id == f"mbpp/{t.meta['id']}" and t.source == "mbpp" for t in tasks)


@needs_data
def test_original_format_fields():
    t = load_tasks(DatasetSpec("mbpp", path=str(ORIGINAL), limit=1))[0]
    assert t.entry_point == "min_cost"
    assert "`min_cost(cost, m, n)`" in t.prompt
    assert "assert min_cost([[1, 2, 3], [4, 8, 2], [1, 5, 3]], 2, 2) == 8" in t.prompt
    assert len(t.tests) == 3 and "\r" not in t.reference
    every = load_tasks(DatasetSpec("mbpp", path=str(ORIGINAL)))
    # the prompt names the function each task's tests call
    assert all(f"`{x.entry_point}(" in x.prompt and x.entry_point in x.tests[0].code for x in every)


@needs_data
def test_setup_code_that_uses_program_classes_is_prefixed_to_each_test():
    tasks = load_tasks(DatasetSpec("mbpp", path=str(ORIGINAL), split="test"))
    t = next(x for x in tasks if x.task_id == "mbpp/367")
    assert t.setup == ""
    assert all(x.code.startswith("root = Node(1)") for x in t.tests)


@pytest.mark.skipif(not SANITIZED.is_file(), reason=f"{SANITIZED} missing")
def test_sanitized_format_uses_prompt_and_test_imports():
    tasks = load_tasks(DatasetSpec("mbpp", path=str(SANITIZED)))
    assert len(tasks) == 427
    with_imports = [t for t in tasks if t.setup]
    assert with_imports and all(t.setup.startswith("import") for t in with_imports)
    assert tasks[0].entry_point == "similar_elements"


def test_entry_point_prefers_the_function_the_reference_defines():
    assert entry_point_of("assert set(f(1)) == set([1])", "def f(x): return [x]") == "f"
    assert entry_point_of("assert sum(10, 15) == 6", "def sum(a, b): return 6") == "sum"
    assert entry_point_of("assert len(g(1)) == 1", "") == "g"
    assert signature_of("g", "assert g(1, 2) == 3", "") == "g(arg0, arg1)"
    assert signature_of("f", "", "def f(a, *b, c=1, **d): pass") == "f(a, *b, c, **d)"


def test_challenge_group_and_unknown_group(tmp_path):
    path = write(tmp_path, [row()])
    assert len(load_tasks(DatasetSpec("mbpp", path=path))[0].tests) == 2
    both = load_tasks(DatasetSpec("mbpp", path=path, test_groups=("base", "challenge")))[0]
    assert [t.code for t in both.tests][-1] == "assert inc(-1) == 0"
    with pytest.raises(BtpError, match="no test group 'hidden'"):
        load_tasks(DatasetSpec("mbpp", path=path, test_groups=("hidden",)))


@pytest.mark.parametrize("bad, problem", [
    ({"test_list": []}, "test_list is empty"),
    ({"test_list": ["assert 1 == 1"]}, "calls no function"),
    ({"task_id": "x"}, "task_id must be an integer"),
    ({"code": None, "test_list": ["assert f((1) == 2"]}, "does not parse"),
])
def test_malformed_rows_name_file_and_line(tmp_path, bad, problem):
    path = write(tmp_path, [row(), {**row(2), **bad}])
    with pytest.raises(BtpError, match=rf"{path}:2: .*{problem}"):
        load_tasks(DatasetSpec("mbpp", path=path))


def test_missing_field_and_unknown_split(tmp_path):
    r = row()
    del r["test_list"]
    path = write(tmp_path, [r])
    with pytest.raises(BtpError, match=rf"{path}:1: missing field 'test_list'"):
        load_tasks(DatasetSpec("mbpp", path=path))
    with pytest.raises(BtpError, match="no split 'dev'"):
        load_tasks(DatasetSpec("mbpp", path=write(tmp_path, [row()]), split="dev"))
