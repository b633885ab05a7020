"""End to end: ``btp run`` on a tiny random model with a tiny budget, then resume."""

import json
import subprocess
import sys

import yaml

from btp.replay import Buffer


def config(tmp_path, model_dir, **over):
    cfg = {
        "run_dir": str(tmp_path / "run"),
        "model": {"name": str(model_dir)},
        "train_tasks": [{"name": "humaneval", "fold": "0/2", "limit": 3}],
        "eval_tasks": [{"name": "humaneval", "fold": "1/2", "limit": 2}],
        "sampling": {"k": 2, "max_new_tokens": 8, "batch_size": 2},
        "execution": {"workers": 2, "timeout": 5.0},
        "train": {"steps": 2, "batch_size": 2, "max_len": 256},
        "eval": {"max_new_tokens": 8, "batch_size": 2},
    }
    cfg.update(over)
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def btp(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "btp", *args], capture_output=True, text=True, timeout=timeout)


def test_btp_run_end_to_end_then_resume_does_nothing_twice(tmp_path, tiny_model_dir):
    path = config(tmp_path, tiny_model_dir)
    proc = btp("run", str(path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "BTP results" in proc.stdout and "pass rate" in proc.stdout
    run = tmp_path / "run"
    assert json.loads((run / "state.json").read_text())["done"] == ["eval:0", "sample:1", "train:1", "eval:1"]
    assert (run / "checkpoints" / "round-1" / "config.json").exists()
    assert (run / "report" / "index.html").read_text().count("data:image/png") >= 4  # report written with the run
    with Buffer(run / "buffer.sqlite") as buf:
        records = list(buf.records())
        assert len(buf.sampled(1, str(tiny_model_dir))) == 3
    assert 3 <= len(records) <= 6  # k=2 beams per task, identical ones stored once with a count
    assert sum(r.count for r in records) == 6
    assert all(r.total > 0 and 0.0 <= r.pass_rate <= 1.0 for r in records)
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    evals = [m for m in metrics if m["stage"] == "eval"]
    assert [m["round"] for m in evals] == [0, 1] and all(m["n_tasks"] == 2 for m in evals)
    assert len([m for m in metrics if m["stage"] == "train"]) == 2

    again = btp("run", str(path))
    assert again.returncode == 0, again.stderr[-3000:]
    metrics2 = (run / "metrics.jsonl").read_text().splitlines()
    assert len(metrics2) == len(metrics)  # every stage was already done


def test_changed_config_in_same_run_dir_is_refused(tmp_path, tiny_model_dir):
    btp_ok = btp("run", str(config(tmp_path, tiny_model_dir, rounds=0)))
    assert btp_ok.returncode == 0, btp_ok.stderr[-3000:]
    proc = btp("run", str(config(tmp_path, tiny_model_dir, rounds=0, seed=7)))
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("btp: error:") and "different config" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_bad_config_key_is_one_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("sampling: {beams: 3}\n")
    proc = btp("run", str(path))
    assert proc.returncode == 2
    assert proc.stderr.strip() == "btp: error: config sampling: unknown key 'beams' (known: batch_size, k, max_new_tokens, method, temperature, top_p)"


N_TASKS = 8


def test_kill_9_during_sampling_then_resume_loses_nothing_and_duplicates_nothing(tmp_path, tiny_model_dir):
    import os
    import signal
    import sqlite3
    import time

    path = config(tmp_path, tiny_model_dir, rounds=1,
                  train_tasks=[{"name": "humaneval", "fold": "0/2", "limit": N_TASKS}],
                  sampling={"k": 2, "max_new_tokens": 16, "batch_size": 1},
                  eval={"max_new_tokens": 8, "batch_size": 2, "before": False})
    db = tmp_path / "run" / "buffer.sqlite"
    proc = subprocess.Popen([sys.executable, "-m", "btp", "run", str(path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline, done = time.time() + 300, 0
    while time.time() < deadline and proc.poll() is None:
        if db.exists():
            try:
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as con:
                    done = con.execute("select count(*) from done").fetchone()[0]
            except sqlite3.OperationalError:
                done = 0
            if 1 <= done < N_TASKS:
                break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed mid-sampling"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with Buffer(db) as buf:
        partial = {(r.task_id, r.program) for r in buf.records()}
        assert 1 <= len(buf.sampled(1, str(tiny_model_dir))) < N_TASKS

    again = btp("run", str(path))
    assert again.returncode == 0, again.stderr[-3000:]
    with Buffer(db) as buf:
        records = list(buf.records())
        assert len(buf.sampled(1, str(tiny_model_dir))) == N_TASKS
    keys = [(r.task_id, r.program) for r in records]
    assert len(keys) == len(set(keys)), "a task was sampled twice"
    assert partial <= set(keys), "records stored before the kill were lost"
    assert {r.task_id for r in records} == {t for t, _ in keys} and len({t for t, _ in keys}) == N_TASKS


def test_sampled_programs_pass_at_k_and_an_ablation_on_a_copied_buffer(tmp_path, tiny_model_dir):
    """sampling.method=sample fills the buffer; eval.n=2 reports pass@2; a second run with
    init_buffer trains on those records under another replay mode without sampling again."""
    first = config(tmp_path, tiny_model_dir, sampling={"k": 2, "max_new_tokens": 8, "batch_size": 2, "method": "sample",
                                                       "temperature": 1.0},
                   eval={"max_new_tokens": 8, "batch_size": 2, "before": False, "n": 2, "ks": [1, 2]},
                   train={"steps": 1, "batch_size": 2, "max_len": 256})
    proc = btp("run", str(first))
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = tmp_path / "run"
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    [ev] = [m for m in metrics if m["stage"] == "eval"]
    assert ev["n_programs"] == 2 * ev["n_tasks"] and ev["pass@1"] is not None and ev["pass@2"] >= ev["pass@1"]
    with Buffer(run / "buffer.sqlite") as buf:
        n_records = len(list(buf.records()))
    assert n_records >= 1

    second = tmp_path / "ablation.yaml"
    cfg = yaml.safe_load(first.read_text())
    cfg.update(run_dir=str(tmp_path / "ablation"), init_buffer=str(run / "buffer.sqlite"),
               replay={"mode": "rank"}, eval={"max_new_tokens": 8, "batch_size": 2, "before": False})
    second.write_text(yaml.safe_dump(cfg))
    proc = btp("run", str(second))
    assert proc.returncode == 0, proc.stderr[-3000:]
    stages = [json.loads(line)["stage"] for line in (tmp_path / "ablation" / "metrics.jsonl").read_text().splitlines()]
    assert "sample" not in stages and "train_done" in stages and stages.count("eval") == 1
    with Buffer(tmp_path / "ablation" / "buffer.sqlite") as buf:
        assert len(list(buf.records())) == n_records

    cfg.update(run_dir=str(tmp_path / "missing"), init_buffer=str(tmp_path / "nope.sqlite"))
    second.write_text(yaml.safe_dump(cfg))
    proc = btp("run", str(second))
    assert proc.returncode == 2 and "init_buffer" in proc.stderr and "does not exist" in proc.stderr
