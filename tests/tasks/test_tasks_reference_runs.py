"""Loaded tests are runnable and meaningful: references pass every split test, wrong programs fail.

Uses a tiny independent runner (one subprocess per task, with a timeout), not btp's sandbox:
each test runs alone in a fresh namespace: setup, program, ``candidate = entry_point``, test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from btp.tasks import DatasetSpec, Task, load_tasks

DATA = Path("/work/shared/data")

RUNNER = r"""
import contextlib, io, json, sys
job = json.load(sys.stdin)
out = []
for program in job["programs"]:
    verdicts = []
    for code in job["tests"]:
        ns = {"__name__": "__main__"}
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(job["setup"], ns)
                exec(program, ns)
                if job["entry_point"]:
                    ns["candidate"] = ns[job["entry_point"]]
                exec(code, ns)
            verdicts.append("pass")
        except AssertionError:
            verdicts.append("fail")
        except BaseException as e:
            verdicts.append("error:" + type(e).__name__)
    out.append(verdicts)
print(json.dumps(out))
"""


def run_task(task: Task, programs: list[str], timeout: float = 60.0) -> list[list[str]]:
    """Per program, per-test verdicts ("pass", "fail", "error:X") on ``task``'s assert tests."""
    job = {"setup": task.setup, "programs": programs, "entry_point": task.entry_point,
           "tests": [t.code for t in task.tests]}
    try:
        proc = subprocess.run([sys.executable, "-I", "-S", "-c", RUNNER], input=json.dumps(job),
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return [["timeout"] * len(task.tests) for _ in programs]
    if proc.returncode != 0:
        return [["crash"] * len(task.tests) for _ in programs]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_all(tasks: list[Task], *program_of) -> list[dict[str, list[str]]]:
    """For each program maker, {task_id: verdicts}; one subprocess per task runs all programs."""
    with ThreadPoolExecutor(4) as pool:
        verdicts = list(pool.map(lambda t: run_task(t, [make(t) for make in program_of]), tasks))
    return [{t.task_id: v[i] for t, v in zip(tasks, verdicts)} for i in range(len(program_of))]


def wrong_program(task: Task) -> str:
    return f"def {task.entry_point}(*args, **kwargs):\n    return None\n"


@pytest.fixture(scope="module")
def humaneval() -> list[Task]:
    return load_tasks(DatasetSpec("humaneval"))


@pytest.fixture(scope="module")
def humaneval_runs(humaneval) -> tuple[dict, dict]:
    """(canonical verdicts, wrong-program verdicts) for all 164 tasks."""
    good, bad = run_all(humaneval, lambda t: t.reference, wrong_program)
    return good, bad


def test_every_humaneval_canonical_solution_passes_every_split_test(humaneval, humaneval_runs):
    good, _ = humaneval_runs
    assert len(humaneval) == 164
    failing = {tid: v for tid, v in good.items() if any(x != "pass" for x in v)}
    assert failing == {}
    assert sum(len(v) for v in good.values()) == sum(len(t.tests) for t in humaneval)


def test_a_wrong_program_fails_most_humaneval_tests(humaneval_runs):
    _, bad = humaneval_runs
    flat = [x for v in bad.values() for x in v]
    assert flat.count("pass") / len(flat) < 0.1
    # every task has at least one test that rejects it
    assert all(any(x != "pass" for x in v) for v in bad.values())


def test_a_prompt_only_program_fails_tests_that_need_the_prompt_helpers(humaneval):
    # HumanEval/32's test calls `poly`, defined in the prompt: program without it must error.
    task = next(t for t in humaneval if t.task_id == "HumanEval/32")
    program = "def find_zero(xs):\n    return 0.0\n"
    assert run_task(task, [program]) == [["error:NameError"]]


@pytest.mark.skipif(not (DATA / "mbpp" / "mbpp.jsonl").is_file(), reason="/work/shared/data/mbpp/mbpp.jsonl missing")
def test_mbpp_references_pass_their_tests_and_wrong_programs_fail():
    tasks = load_tasks(DatasetSpec("mbpp", path=str(DATA / "mbpp" / "mbpp.jsonl"), split="test", fold="0/4"))
    assert 100 < len(tasks) < 150
    good, bad = run_all(tasks, lambda t: t.reference, wrong_program)
    failing = {tid: v for tid, v in good.items() if not v or any(x != "pass" for x in v)}
    assert failing == {}
    flat = [x for v in bad.values() for x in v]
    assert flat.count("pass") / len(flat) < 0.05


@pytest.mark.slow
@pytest.mark.skipif(not (DATA / "mbpp" / "mbpp.jsonl").is_file(), reason="/work/shared/data/mbpp/mbpp.jsonl missing")
@pytest.mark.parametrize("name", ["mbpp.jsonl", "sanitized-mbpp.json"])
def test_all_mbpp_references_pass_including_setup_code_tasks(name):
    tasks = load_tasks(DatasetSpec("mbpp", path=str(DATA / "mbpp" / name)))
    (good,) = run_all(tasks, lambda t: t.reference)
    failing = {tid: v for tid, v in good.items() if not v or any(x != "pass" for x in v)}
    assert failing == {}  # includes mbpp/367 and mbpp/927, whose test_setup_code uses Node
