"""``btp exec`` end to end: files in, one result line per program, summary line; bad input errors."""

from __future__ import annotations

import json
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
