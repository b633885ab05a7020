"""HumanEval loading and the check() splitting rule."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from btp.errors import BtpError
from btp.tasks import AssertTest, DatasetSpec, load_tasks
from btp.tasks.humaneval import WRAPPER, packaged_humaneval, split_check

SHARED = Path("/work/shared/data/humaneval/HumanEval.jsonl.gz")


def run_alone(test_code: str, candidate, extra: dict | None = None) -> dict:
    ns = {"candidate": candidate, **(extra or {})}
    exec(test_code, ns)
    return ns


def test_each_assert_becomes_one_test_and_context_is_carried_forward():
    src = (
        "META = {'a': 1}\n"
        "def check(candidate):\n"
        "    assert candidate(1) == 2\n"
        "    import math\n"
        "    base = 10\n"
        "    assert candidate(base) == 11\n"
        "    for i in range(3):\n"
        "        assert candidate(i) == i + 1\n"
        "    print('after')\n"
    )
    tests = split_check(src)
    assert len(tests) == 3
    assert "base = 10" not in tests[0] and "base = 10" in tests[1] and "base = 10" in tests[2]
    assert all("META = " in t for t in tests)
    assert not any("print" in t for t in tests)  # trailing non-assert statements dropped
    for code in tests:  # each runs alone: passes for the right candidate, fails for a wrong one
        run_alone(code, lambda x: x + 1)
        with pytest.raises(AssertionError):
            run_alone(code, lambda x: x)


def test_tests_keep_checks_local_scope_so_builtins_are_not_shadowed():
    # like HumanEval/38: `str = ...` inside check must not leak into the program's globals
    src = "def check(candidate):\n    str = 'abc'\n    assert candidate(str) == 'abc'\n"
    (code,) = split_check(src)
    ns = run_alone(code, lambda s: str(s))
    assert "str" not in ns  # the assignment stayed local to the wrapper


def test_nested_defs_with_asserts_are_context_not_tests():
    src = "def check(candidate):\n    def helper(x):\n        assert x\n        return x\n    assert candidate(helper(1)) == 1\n"
    tests = split_check(src)
    assert len(tests) == 1 and "def helper" in tests[0]
    run_alone(tests[0], lambda x: x)


@pytest.mark.parametrize(
    "src, problem",
    [
        ("x = 1\n", "exactly one check"),
        ("def check(candidate):\n    x = 1\n", "no assert"),
        ("def check(a, b):\n    assert a\n", "exactly one argument"),
    ],
)
def test_bad_test_code_is_rejected(src, problem):
    with pytest.raises(ValueError, match=problem):
        split_check(src)


def test_loads_164_tasks_from_the_installed_package():
    tasks = load_tasks(DatasetSpec("humaneval"))
    assert len(tasks) == 164
    t0 = tasks[0]
    assert t0.task_id == "HumanEval/0" and t0.source == "humaneval"
    assert t0.entry_point == "has_close_elements"
    assert t0.reference.startswith(t0.prompt) and len(t0.reference) > len(t0.prompt)
    assert all(isinstance(x, AssertTest) and f"{WRAPPER}(candidate)" in x.code for t in tasks for x in t.tests)
    assert sum(len(t.tests) for t in tasks) > 1000  # ~7 asserts per task on average
    assert next(t for t in tasks if t.task_id == "HumanEval/32").meta["n_asserts"] == 1


@pytest.mark.skipif(not SHARED.is_file(), reason=f"{SHARED} missing")
def test_path_and_packaged_copies_agree():
    assert gzip.open(SHARED).read() == gzip.open(packaged_humaneval()).read()
    a = load_tasks(DatasetSpec("humaneval", path=str(SHARED), limit=5))
    b = load_tasks(DatasetSpec("humaneval", limit=5))
    assert [t.to_json() for t in a] == [t.to_json() for t in b]


def test_split_is_rejected_and_fold_limit_apply():
    with pytest.raises(BtpError, match="split"):
        load_tasks(DatasetSpec("humaneval", split="test"))
    half = load_tasks(DatasetSpec("humaneval", fold="1/2", limit=3))
    assert len(half) == 3


def test_malformed_rows_name_file_and_line(tmp_path):
    good = {"task_id": "X/0", "prompt": "def f():\n", "entry_point": "f", "canonical_solution": "  return 1\n",
            "test": "def check(candidate):\n    assert candidate() == 1\n"}
    path = tmp_path / "he.jsonl"
    lines = [json.dumps(good), json.dumps({**good, "task_id": "X/1", "test": "def check(candidate:\n"})]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(BtpError, match=rf"{path}:2: code does not parse"):
        load_tasks(DatasetSpec("humaneval", path=str(path)))
    path.write_text(json.dumps(good) + "\n" + json.dumps({"task_id": "X/1"}) + "\n")
    with pytest.raises(BtpError, match=rf"{path}:2: missing field 'prompt'"):
        load_tasks(DatasetSpec("humaneval", path=str(path)))
    path.write_text(json.dumps(good) + "\n{not json\n")
    with pytest.raises(BtpError, match=rf"{path}:2: invalid JSON"):
        load_tasks(DatasetSpec("humaneval", path=str(path)))
