"""btp task JSONL round trip and error handling."""

from __future__ import annotations

import json

import pytest

from btp.errors import BtpError
from btp.tasks import (AssertTest, CallTest, DatasetSpec, StdioTest, Task, load_tasks, read_tasks_jsonl,
                       write_tasks_jsonl)

TASKS = [
    Task("a/1", "prompt é", (AssertTest("assert candidate(1) == 2"),), entry_point="f", setup="import math\n",
         reference="def f(x): return x + 1", source="x", meta={"difficulty": "easy"}),
    Task("a/2", "p", (StdioTest("1 2\n", "3\n"), CallTest((1, [2]), [3])), source="y"),
]


def test_round_trip(tmp_path):
    path = tmp_path / "t.jsonl"
    assert write_tasks_jsonl(TASKS, path) == 2
    back = read_tasks_jsonl(path)
    assert [t.to_json() for t in back] == [t.to_json() for t in TASKS]
    assert back[0].meta == {"difficulty": "easy"}
    assert load_tasks(DatasetSpec("jsonl", path=str(path), limit=1))[0].task_id == "a/1"


def test_malformed_line_names_file_and_line(tmp_path):
    path = tmp_path / "t.jsonl"
    write_tasks_jsonl(TASKS, path)
    with open(path, "a") as f:
        f.write("\n" + json.dumps({"task_id": "b", "prompt": "p", "tests": [{"type": "weird"}]}) + "\n")
    with pytest.raises(BtpError, match=rf"^{path}:4: unknown test type 'weird'"):
        read_tasks_jsonl(path)
    path.write_text(json.dumps({"task_id": "b", "prompt": "p"}) + "\n")
    with pytest.raises(BtpError, match=rf"^{path}:1: .*missing field 'tests'"):
        read_tasks_jsonl(path)
    path.write_text("[1, 2]\n")
    with pytest.raises(BtpError, match=rf"^{path}:1: expected a JSON object"):
        read_tasks_jsonl(path)


def test_missing_file_and_split_are_errors(tmp_path):
    with pytest.raises(BtpError, match="no such file"):
        read_tasks_jsonl(tmp_path / "none.jsonl")
    with pytest.raises(BtpError, match="is a folder"):
        read_tasks_jsonl(tmp_path)
    with pytest.raises(BtpError, match="needs a path"):
        load_tasks(DatasetSpec("jsonl"))
    path = tmp_path / "t.jsonl"
    write_tasks_jsonl(TASKS, path)
    with pytest.raises(BtpError, match="split"):
        load_tasks(DatasetSpec("jsonl", path=str(path), split="test"))


def test_failed_write_keeps_the_existing_file(tmp_path):
    path = tmp_path / "t.jsonl"
    write_tasks_jsonl(TASKS, path)
    before = path.read_bytes()
    bad = Task("c", "p", (CallTest((object(),), 1),))
    with pytest.raises(BtpError, match="'c' is not JSON-serializable"):
        write_tasks_jsonl(TASKS + [bad], path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.jsonl"]  # no temp file left


def test_a_test_value_past_the_int_digit_limit_is_a_named_error():
    """10**5000 cannot be written as JSON under Python's default digit limit: a BtpError naming
    the task, not a bare ValueError from deep inside the executor's cache key."""
    task = Task("big", "", (CallTest(args=[1], expected=10 ** 5000),), entry_point="f")
    with pytest.raises(BtpError, match="'big'.*set_int_max_str_digits"):
        task.tests_json()
