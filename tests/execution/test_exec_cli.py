"""``btp exec`` end to end: files in, one result line per program, summary line; bad input errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from typer.testing import CliRunner

from btp.cli import app
from btp.tasks.types import AssertTest, StdioTest, Task


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_exec_writes_results_and_summary(tmp_path, ex):
    tasks = [Task("add", "", (AssertTest("assert candidate(1, 2) == 3"), AssertTest("assert candidate(0, 0) == 1")),
                  entry_point="add"),
             Task("echo", "", (StdioTest("hi\n", "hi  \n"),))]
    _write(tmp_path / "t.jsonl", [t.to_json() for t in tasks])
    _write(tmp_path / "p.jsonl", [
        {"task_id": "add", "program_id": "a0", "program": "def add(a, b): return a + b"},
        {"task_id": "echo", "program_id": "e0", "program": "print(input())"},
        {"task_id": "add", "program_id": "a1", "program": "while True: pass"},
    ])
    out = tmp_path / "r.jsonl"
    res = CliRunner().invoke(app, ["exec", "--tasks", str(tmp_path / "t.jsonl"), "--programs",
                                   str(tmp_path / "p.jsonl"), "--out", str(out), "--workers", "1",
                                   "--timeout", "0.5", "--profile", "exact", "--no-cache"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["task_id"], r["program_id"], r["outcomes"]) for r in rows] == [
        ("add", "a0", ["pass", "fail"]), ("echo", "e0", ["fail"]), ("add", "a1", ["timeout", "timeout"])]
    assert rows[0]["passed"] == 1 and rows[0]["total"] == 2 and rows[0]["pass_rate"] == 0.5
    assert "3 programs, 5 tests (pass 1, fail 2, timeout 2)" in res.output and "programs/s" in res.output


def test_exec_bad_input_is_one_line_error(tmp_path):
    (tmp_path / "t.jsonl").write_text(json.dumps(Task("x", "", ()).to_json()) + "\n")
    _write(tmp_path / "p.jsonl", [{"task_id": "nope", "program": "pass"}])
    proc = subprocess.run([sys.executable, "-m", "btp", "exec", "--tasks", str(tmp_path / "t.jsonl"),
                           "--programs", str(tmp_path / "p.jsonl"), "--out", str(tmp_path / "r.jsonl")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "unknown task_id 'nope'" in proc.stderr
    assert not (tmp_path / "r.jsonl").exists()


def _exec(tmp_path, *extra):
    return CliRunner().invoke(app, ["exec", "--tasks", str(tmp_path / "t.jsonl"), "--programs",
                                    str(tmp_path / "p.jsonl"), "--out", str(tmp_path / "r.jsonl"),
                                    "--workers", "1", "--timeout", "2", *extra])


def test_exec_resumes_from_partial_file(tmp_path, ex):
    from btp.cli.exec_cmd import item_key
    from btp.execution import ExecConfig

    task = Task("add", "", (AssertTest("assert candidate(1, 2) == 3"),), entry_point="add")
    _write(tmp_path / "t.jsonl", [task.to_json()])
    right, wrong = "def add(a, b): return a + b", "def add(a, b): return a - b"
    _write(tmp_path / "p.jsonl", [{"task_id": "add", "program_id": "r", "program": right},
                                  {"task_id": "add", "program_id": "w", "program": wrong}])
    cfg = ExecConfig(workers=1, timeout=2.0)  # what _exec's options make
    # an earlier run stored "w" (the stored row says pass: proof it is reused, not rerun); rows for
    # "r" from another configuration (timeout 3) or with the wrong number of outcomes, a malformed
    # row and a line a kill cut short are all ignored
    stored = {"task_id": "add", "program_id": "w", "passed": 1, "total": 1, "pass_rate": 1.0,
              "outcomes": ["pass"], "seconds": 0.0, "fingerprint": item_key(task, "w", wrong, cfg)[2]}
    other = {**stored, "program_id": "r", "outcomes": ["fail"],
             "fingerprint": item_key(task, "r", right, ExecConfig(workers=1, timeout=3.0))[2]}
    short = {**other, "outcomes": [], "fingerprint": item_key(task, "r", right, cfg)[2]}
    malformed = {**stored, "task_id": ["add"]}
    (tmp_path / "r.jsonl.partial").write_text("".join(json.dumps(r) + "\n" for r in (stored, other, short, malformed))
                                              + json.dumps(stored)[:40])
    res = _exec(tmp_path)
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [(r["program_id"], r["outcomes"]) for r in rows] == [("r", ["pass"]), ("w", ["pass"])]
    assert "fingerprint" not in rows[1]
    assert "1 from the partial file" in res.output
    assert not (tmp_path / "r.jsonl.partial").exists()


def test_exec_refuses_a_second_run_on_the_same_output(tmp_path):
    import fcntl

    task = Task("add", "", (AssertTest("assert candidate(1, 2) == 3"),), entry_point="add")
    _write(tmp_path / "t.jsonl", [task.to_json()])
    _write(tmp_path / "p.jsonl", [{"task_id": "add", "program_id": "r", "program": "def add(a, b): return a + b"}])
    with (tmp_path / "r.jsonl.partial").open("a") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        proc = subprocess.run([sys.executable, "-m", "btp", "exec", "--tasks", str(tmp_path / "t.jsonl"),
                               "--programs", str(tmp_path / "p.jsonl"), "--out", str(tmp_path / "r.jsonl")],
                              capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "another btp exec is writing" in proc.stderr
    assert not (tmp_path / "r.jsonl").exists()


def test_exec_killed_midway_resumes_without_rerunning(tmp_path):
    import signal
    import time

    task = Task("f", "", (AssertTest("assert candidate() == 1"),), entry_point="f")
    _write(tmp_path / "t.jsonl", [task.to_json()])
    # distinct programs (no cache hits) that each take ~30 ms of wall time
    _write(tmp_path / "p.jsonl", [{"task_id": "f", "program_id": str(i),
                                   "program": f"import time\ntime.sleep(0.03)\ndef f(): return 1  # {i}"}
                                  for i in range(100)])
    cmd = [sys.executable, "-m", "btp", "exec", "--tasks", str(tmp_path / "t.jsonl"), "--programs",
           str(tmp_path / "p.jsonl"), "--out", str(tmp_path / "r.jsonl"), "--workers", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    partial = tmp_path / "r.jsonl.partial"
    deadline = time.monotonic() + 60
    while not (partial.exists() and partial.read_text().count("\n") >= 32) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = partial.read_text().count("\n")
    assert 32 <= kept < 100 and not (tmp_path / "r.jsonl").exists()
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert f"{kept} from the partial file" in again.stdout
    rows = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [r["program_id"] for r in rows] == [str(i) for i in range(100)]
    assert all(r["outcomes"] == ["pass"] for r in rows)


def test_exec_checker_from_module(tmp_path, monkeypatch, ex):
    (tmp_path / "anyorder.py").write_text(
        "def check(stdin, expected, actual):\n    return sorted(expected.split()) == sorted(actual.split())\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    _write(tmp_path / "t.jsonl", [Task("pair", "", (StdioTest("", "1 2\n"),)).to_json()])
    _write(tmp_path / "p.jsonl", [{"task_id": "pair", "program_id": "p", "program": "print(2, 1)"}])
    res = _exec(tmp_path, "--profile", "anyorder:check")
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "r.jsonl").read_text())["outcomes"] == ["pass"]
    assert _exec(tmp_path).exit_code == 0  # the default whitespace profile: order matters
    assert json.loads((tmp_path / "r.jsonl").read_text())["outcomes"] == ["fail"]
    bad = subprocess.run([sys.executable, "-m", "btp", "exec", "--tasks", str(tmp_path / "t.jsonl"),
                          "--programs", str(tmp_path / "p.jsonl"), "--out", str(tmp_path / "x.jsonl"),
                          "--profile", "anyorder:nope"], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0
    assert "cannot load checker 'anyorder:nope'" in bad.stderr


def test_exec_releases_its_lock_when_it_fails(tmp_path, monkeypatch):
    from btp.execution import Executor

    task = Task("add", "", (AssertTest("assert candidate(1, 2) == 3"),), entry_point="add")
    _write(tmp_path / "t.jsonl", [task.to_json()])
    _write(tmp_path / "p.jsonl", [{"task_id": "add", "program_id": "r", "program": "def add(a, b): return a + b"}])

    def broken(self, pairs, progress=None):
        raise RuntimeError("interrupted")

    with monkeypatch.context() as m:
        m.setattr(Executor, "run_batch", broken)
        failed = _exec(tmp_path)  # kept: its traceback holds the command's frames
    assert isinstance(failed.exception, RuntimeError)
    again = _exec(tmp_path)
    assert again.exit_code == 0, again.output
