"""A writer killed with SIGKILL mid-run leaves a consistent file that the next run resumes."""

import os
import signal
import subprocess
import sys
import time

import numpy as np

from btp.replay import Buffer, PriorityConfig

K = 5  # beams per task
N_TASKS = 3000

WRITER = f"""
import sys, time
from btp.replay import Buffer, Record
from btp.tasks.types import Task, AssertTest
path = sys.argv[1]
with Buffer(path) as b:
    b.add_tasks([Task(f"t{{i}}", "p", (AssertTest("assert True"),)) for i in range({N_TASKS})])
    done = b.sampled(0, "m")
    for i in range({N_TASKS}):
        t = f"t{{i}}"
        if t in done:
            continue
        recs = [Record(t, f"# {{t}} beam {{j}}\\n" + "x = 1\\n" * 50, pass_rate=j / {K}, model="m",
                       logprob_sum=-float(j + 1), n_tokens=10, beam_rank=j) for j in range({K})]
        b.add(recs, done=(t, 0, "m"))
        print(i, flush=True)
        time.sleep(0.001)  # so that on a fast, quiet machine the kill still lands mid-run
"""


def check(path):
    with Buffer(path, readonly=True) as b:
        with b.snapshot():
            done = b.sampled(0, "m")
            by_task: dict = {}
            for r in b.records():
                by_task.setdefault(r.task_id, []).append(r)
            n_records = len(b)
        assert set(by_task) == done, "records without their done marker, or the reverse"
        for t, recs in by_task.items():
            assert [r.beam_rank for r in recs] == list(range(K))
            assert all(r.program.startswith(f"# {t} beam {r.beam_rank}\n") and r.program.count("\n") == 51 for r in recs)
            assert [r.logprob_sum for r in recs] == [-float(j + 1) for j in range(K)]
        if done:
            ids, _, _ = b.sample_ids(100, PriorityConfig(mode="rank"), np.random.default_rng(0))
            assert ids.size == 100
        return len(done), n_records


def test_kill_9_then_resume(tmp_path):
    path = str(tmp_path / "buf.sqlite")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    killed_at = []
    for attempt in range(3):
        p = subprocess.Popen([sys.executable, "-c", WRITER, path], stdout=subprocess.PIPE, text=True, env=env)
        target = 30 + 40 * attempt
        for line in p.stdout:
            if int(line) >= target:
                break
        reader_counts = []
        while p.poll() is None and len(reader_counts) < 3:  # a reader works while the writer writes
            reader_counts.append(check(path))
        time.sleep(0.05)
        p.send_signal(signal.SIGKILL)
        p.wait()
        assert p.returncode == -signal.SIGKILL
        n_done, n_records = check(path)
        assert n_records == K * n_done and n_done > target
        assert all(c[1] == K * c[0] for c in reader_counts)
        killed_at.append(n_done)
    assert killed_at == sorted(killed_at)
    p = subprocess.run([sys.executable, "-c", WRITER, path], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    resumed = [int(x) for x in p.stdout.split()]
    assert resumed and min(resumed) == killed_at[-1]  # resumes at the first task not marked done
    assert check(path) == (N_TASKS, N_TASKS * K)
