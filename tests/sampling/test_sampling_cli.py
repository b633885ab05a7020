"""btp sample into a buffer: killed with SIGKILL mid-run, it resumes without redoing tasks or duplicating
records; btp score adds per-model likelihoods; bad input gets a one-line error."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from btp.cli import app
from btp.tasks.types import AssertTest, Task


def write_tasks(path, n):
    tasks = [Task(f"t/{i}", f'def f{i}(x):\n    """Return x plus {i}."""\n', (AssertTest(f"assert candidate(1) == {1 + i}"),),
                  entry_point=f"f{i}") for i in range(n)]
    path.write_text("".join(json.dumps(t.to_json()) + "\n" for t in tasks))
    return tasks


def done_count(db) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=1) as c:
            return c.execute("SELECT COUNT(*) FROM done").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def sample_cmd(tasks, db, model):
    return [sys.executable, "-m", "btp", "sample", "--tasks", str(tasks), "--buffer", str(db), "--model", str(model),
            "--k", "3", "--max-new-tokens", "24", "--batch-size", "1"]


@pytest.mark.slow
def test_sample_killed_mid_run_resumes_without_duplicates(tiny_model_dir, tmp_path):
    tasks = write_tasks(tmp_path / "t.jsonl", 10)
    db = tmp_path / "b.sqlite"
    proc = subprocess.Popen(sample_cmd(tmp_path / "t.jsonl", db, tiny_model_dir), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while done_count(db) < 2 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = done_count(db)
    assert 2 <= before < len(tasks), "the run must be interrupted mid-way for this test to mean anything"
    with sqlite3.connect(db) as c:
        kept = c.execute("SELECT id, task_id, program_hash FROM records ORDER BY id").fetchall()
    res = subprocess.run(sample_cmd(tmp_path / "t.jsonl", db, tiny_model_dir), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert f"({before} already done)" in res.stderr.replace("\n", " ")
    with sqlite3.connect(db) as c:
        rows = c.execute("SELECT id, task_id, program_hash, count FROM records ORDER BY id").fetchall()
        markers = c.execute("SELECT task_id, COUNT(*) FROM done GROUP BY task_id").fetchall()
    assert [r[:3] for r in rows[: len(kept)]] == kept  # finished tasks untouched
    assert sorted(t for t, _ in markers) == sorted(t.task_id for t in tasks) and all(n == 1 for _, n in markers)
    pairs = [(t, h) for _, t, h, _ in rows]
    assert len(pairs) == len(set(pairs))  # identical programs of one task stored once ...
    per_task: dict = {}
    for _, t, _, n in rows:
        per_task[t] = per_task.get(t, 0) + n
    assert set(per_task.values()) == {3}  # ... with a count, so counts add up to k beams


def test_score_stores_likelihoods_per_model_and_resumes(tiny_model_dir, tmp_path):
    write_tasks(tmp_path / "t.jsonl", 2)
    db = tmp_path / "b.sqlite"
    res = subprocess.run(sample_cmd(tmp_path / "t.jsonl", db, tiny_model_dir), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    runner = CliRunner()
    out = runner.invoke(app, ["score", str(db), "--model", str(tiny_model_dir)])
    assert out.exit_code == 0, out.output
    with sqlite3.connect(db) as c:
        n_rec = c.execute("SELECT COUNT(*) FROM records").fetchone()[0]
        scores = c.execute("SELECT record_id, logprob_sum, n_tokens FROM scores").fetchall()
    assert len(scores) == n_rec > 0
    assert all(lp <= 0 and n > 0 for _, lp, n in scores)
    again = runner.invoke(app, ["score", str(db), "--model", str(tiny_model_dir)])
    assert again.exit_code == 0 and "0 records scored" in again.output.replace("\n", " ")

    from btp.replay import Buffer, PriorityConfig

    with Buffer(db) as buf:
        ids, pri = buf.priorities(PriorityConfig(alpha=1.0, p_model=str(tiny_model_dir)))
        ids2, pri_writer = buf.priorities(PriorityConfig(alpha=1.0))
    assert (pri > 0).all() and not (pri == pri_writer).all()  # P under the scorer, not the writer's


def test_sample_needs_one_output_and_a_known_backend(tmp_path):
    write_tasks(tmp_path / "t.jsonl", 1)
    res = subprocess.run([sys.executable, "-m", "btp", "sample", "--tasks", str(tmp_path / "t.jsonl")],
                         capture_output=True, text=True)
    assert res.returncode == 2 and "exactly one of --out" in res.stderr
    res = subprocess.run([sys.executable, "-m", "btp", "sample", "--tasks", str(tmp_path / "t.jsonl"), "--out",
                          str(tmp_path / "p.jsonl"), "--backend", "nope"], capture_output=True, text=True)
    assert res.returncode == 2 and "unknown backend 'nope'" in res.stderr
