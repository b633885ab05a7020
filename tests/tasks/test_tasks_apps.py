"""APPS loading: original folders (stdio, call-based, LeetCode), HF rows, splits, malformed input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from btp.errors import BtpError
from btp.tasks import CallTest, DatasetSpec, StdioTest, load_tasks

DATA = Path("/work/shared/data/apps")
FOLDERS = DATA / "apps_original_format_train_samples"
HF10 = DATA / "apps_test_10.hf_format.jsonl"


def make_problem(folder: Path, io: dict | str | None, starter: str = "", solutions=None, meta=None) -> Path:
    folder.mkdir(parents=True)
    (folder / "question.txt").write_text("Add the numbers.")
    if io is not None:
        (folder / "input_output.json").write_text(io if isinstance(io, str) else json.dumps(io))
    if starter:
        (folder / "starter_code.py").write_text(starter)
    if solutions is not None:
        (folder / "solutions.json").write_text(json.dumps(solutions))
    if meta is not None:
        (folder / "metadata.json").write_text(json.dumps(meta))
    return folder


@pytest.mark.skipif(not FOLDERS.is_dir(), reason=f"{FOLDERS} missing")
def test_original_folder_format():
    tasks = {t.task_id: t for t in load_tasks(DatasetSpec("apps", path=str(FOLDERS)))}
    assert sorted(tasks) == ["apps/0001", "apps/0111", "apps/2287", "apps/2404", "apps/4184"]
    stdio = tasks["apps/0001"]
    assert stdio.tests == (StdioTest("3\n2 2 3\n4 3 7\n10 1 9\n", "1\n6\n-1\n"),)
    assert stdio.entry_point is None and stdio.meta["difficulty"] == "interview"
    assert stdio.meta["url"].startswith("https://codeforces.com/") and stdio.reference
    call = tasks["apps/4184"]
    assert call.entry_point == "is_prime" and len(call.tests) == 8
    assert call.tests[0] == CallTest(args=(1,), expected=[False])  # APPS's one-element wrapping kept raw
    assert "def is_prime(n):" in call.prompt and "class_name" not in call.meta
    leet = tasks["apps/2404"]
    assert leet.meta["class_name"] == "Solution" and "class Solution:" in leet.prompt
    assert leet.tests == (CallTest(args=([2, 3, 4, 7, 11], 5), expected=9),)
    # its starter code annotates with List, which LeetCode and APPS's harness provide
    assert leet.setup == call.setup == "from typing import *\n" and stdio.setup == ""
    single = load_tasks(DatasetSpec("apps", path=str(FOLDERS / "2404")))
    assert [t.to_json() for t in single] == [leet.to_json()]


@pytest.mark.skipif(not HF10.is_file(), reason=f"{HF10} missing")
def test_hf_row_format():
    tasks = load_tasks(DatasetSpec("apps", path=str(HF10)))
    assert len(tasks) == 10 and tasks[0].task_id == "apps/1079"
    assert all(isinstance(x, StdioTest) for t in tasks for x in t.tests)
    assert tasks[0].tests[0] == StdioTest("10\n", "1\n") and tasks[0].meta["difficulty"] == "interview"
    with pytest.raises(BtpError, match="cannot select split 'test'"):
        load_tasks(DatasetSpec("apps", path=str(HF10), split="test"))


def test_train_test_root_selects_split(tmp_path):
    io = {"inputs": ["1 2\n"], "outputs": ["3\n"]}
    make_problem(tmp_path / "train" / "0005", io, solutions=["print(sum(map(int, input().split())))"])
    make_problem(tmp_path / "test" / "0005", {"fn_name": "add", "inputs": [[1, 2]], "outputs": [3]}, "def add(a, b):\n")
    make_problem(tmp_path / "test" / "0006", None)  # no tests: skipped
    both = load_tasks(DatasetSpec("apps", path=str(tmp_path)))
    assert [t.task_id for t in both] == ["apps/train/0005", "apps/test/0005"]
    test = load_tasks(DatasetSpec("apps", path=str(tmp_path), split="test"))
    assert [t.task_id for t in test] == ["apps/test/0005"] and test[0].meta["split"] == "test"
    assert test[0].entry_point == "add" and test[0].tests == (CallTest((1, 2), 3),)
    assert both[0].reference.startswith("print(")
    with pytest.raises(BtpError, match="no split 'valid'"):
        load_tasks(DatasetSpec("apps", path=str(tmp_path), split="valid"))
    # a folder named after its split tells it
    assert [t.task_id for t in load_tasks(DatasetSpec("apps", path=str(tmp_path / "train"), split="train"))] == ["apps/train/0005"]
    with pytest.raises(BtpError, match="cannot select split 'test'"):
        load_tasks(DatasetSpec("apps", path=str(tmp_path / "train"), split="test"))


def test_lists_of_lines_are_joined(tmp_path):
    make_problem(tmp_path / "p" / "0001", {"inputs": [["1", "2"]], "outputs": [["3", "4"]]})
    (t,) = load_tasks(DatasetSpec("apps", path=str(tmp_path / "p")))
    assert t.tests == (StdioTest("1\n2\n", "3\n4"),)


@pytest.mark.parametrize("io, problem", [
    ('{"inputs": [', "input_output.json: invalid JSON"),
    ({"inputs": ["1"], "outputs": []}, "1 inputs but 0 outputs"),
    ({"inputs": ["1"]}, "missing field 'outputs'"),
    ({"inputs": [1], "outputs": ["1"]}, "must be a string"),
])
def test_malformed_problem_folders(tmp_path, io, problem):
    make_problem(tmp_path / "p" / "0001", io)
    with pytest.raises(BtpError, match=problem) as e:
        load_tasks(DatasetSpec("apps", path=str(tmp_path / "p")))
    assert "0001" in str(e.value) and "\n" not in str(e.value)


def test_malformed_hf_rows_name_file_and_line(tmp_path):
    good = {"problem_id": 7, "question": "q", "starter_code": "", "difficulty": "interview",
            "input_output": json.dumps({"inputs": ["1\n"], "outputs": ["1\n"]}), "solutions": ""}
    path = tmp_path / "apps.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "problem_id": 8, "input_output": "{oops"}) + "\n")
    with pytest.raises(BtpError, match=rf"{path}:2: input_output/solutions is not valid JSON"):
        load_tasks(DatasetSpec("apps", path=str(path)))
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "problem_id": 9, "input_output": ""}) + "\n")
    assert [t.task_id for t in load_tasks(DatasetSpec("apps", path=str(path)))] == ["apps/0007"]


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(BtpError, match="no APPS problem folders"):
        load_tasks(DatasetSpec("apps", path=str(tmp_path)))
