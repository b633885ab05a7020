"""Batch sampling and priority updates on 10^6 priorities: btp vs cpprb and TorchRL, in one run.

    python benchmarks/replay_sampling.py [--json] [--n 1000000] [--batch 256] [--reps 300]

Peers: cpprb's PrioritizedReplayBuffer (C++ segment tree) and TorchRL's PrioritizedSampler
(proportional, C++ sum tree). A peer that is not installed or does not load is reported as
'could not run' with the reason. Rank-based sampling has no peer and is timed on its own.
Times are per batch (median of --reps), in microseconds; ratio = peer time / btp time (> 1: btp faster).
Also times the Buffer end to end on an SQLite file with 10^6 records when --buffer is given.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time

import numpy as np

from btp.replay.structures import RankStructure
from btp.replay.weightindex import WeightIndex


def timeit(fn, reps: int) -> float:
    for _ in range(5):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts) * 1e6)


def bench_btp(prio, batch, reps, rng):
    idx = WeightIndex(prio)
    pos = rng.choice(prio.size, batch, replace=False)
    return {"sample_us": timeit(lambda: idx.draw(batch, rng), reps),
            "update_us": timeit(lambda: idx.update(pos, rng.random(batch)), reps),
            "update_then_sample_us": timeit(lambda: (idx.update(pos, rng.random(batch)), idx.draw(batch, rng)), reps)}


def bench_rank(prio, batch, reps, rng):
    t0 = time.perf_counter()
    s = RankStructure(prio, 1.0)
    build = (time.perf_counter() - t0) * 1e6
    pos = rng.choice(prio.size, batch, replace=False)
    return {"build_us": build, "sample_us": timeit(lambda: s.draw(batch, rng), reps),
            "update_us": timeit(lambda: s.set(pos, rng.random(batch)), max(20, reps // 10))}


def bench_cpprb(prio, batch, reps, rng):
    import cpprb

    rb = cpprb.PrioritizedReplayBuffer(prio.size, {"i": {"dtype": np.int32}}, alpha=1.0)
    rb.add(i=np.arange(prio.size, dtype=np.int32), priorities=prio)
    pos = rng.choice(prio.size, batch, replace=False)
    from importlib.metadata import version

    return {"version": version("cpprb"),
            "sample_us": timeit(lambda: rb.sample(batch, beta=0.0), reps),
            "update_us": timeit(lambda: rb.update_priorities(pos, rng.random(batch)), reps),
            "update_then_sample_us": timeit(lambda: (rb.update_priorities(pos, rng.random(batch)),
                                                     rb.sample(batch, beta=0.0)), reps)}


def bench_torchrl(prio, batch, reps, rng):
    import torch
    import torchrl
    from torchrl.data.replay_buffers.samplers import PrioritizedSampler
    from torchrl.data.replay_buffers.storages import LazyTensorStorage

    storage = LazyTensorStorage(prio.size)
    storage.set(torch.arange(prio.size), torch.zeros(prio.size))
    s = PrioritizedSampler(prio.size, alpha=1.0, beta=0.0)
    s.update_priority(torch.arange(prio.size), torch.as_tensor(prio))
    pos = torch.as_tensor(rng.choice(prio.size, batch, replace=False))
    return {"version": torchrl.__version__,
            "sample_us": timeit(lambda: s.sample(storage, batch), reps),
            "update_us": timeit(lambda: s.update_priority(pos, torch.rand(batch, dtype=torch.float64)), reps),
            "update_then_sample_us": timeit(lambda: (s.update_priority(pos, torch.rand(batch, dtype=torch.float64)),
                                                     s.sample(storage, batch)), reps)}


def bench_buffer(n, batch, reps, rng):
    from btp.replay import Buffer, PriorityConfig, Record
    from btp.tasks.types import AssertTest, Task

    with tempfile.TemporaryDirectory() as d, Buffer(f"{d}/b.sqlite") as buf:
        buf.add_tasks([Task(f"t{i}", "p", (AssertTest("assert True"),)) for i in range(n // 100)])
        t0 = time.perf_counter()
        for k in range(0, n, 10_000):
            buf.add([Record(f"t{(k + j) // 100}", f"x = {k + j}", pass_rate=float(rng.random()), logprob_sum=-float(rng.random() * 5),
                            n_tokens=10, beam_rank=j % 5) for j in range(min(10_000, n - k))])
        add_s = time.perf_counter() - t0
        out = {"records": len(buf), "add_records_per_s": n / add_s}
        for mode in ("proportional", "rank"):
            cfg = PriorityConfig(mode=mode)
            t0 = time.perf_counter()
            buf.sample_ids(batch, cfg, rng)
            out[f"{mode}_index_build_s"] = time.perf_counter() - t0
            out[f"{mode}_sample_ids_us"] = timeit(lambda: buf.sample_ids(batch, cfg, rng), reps)
            out[f"{mode}_sample_with_records_us"] = timeit(lambda: buf.sample(batch, cfg, rng), max(20, reps // 10))
        ids = rng.choice(n, batch, replace=False) + 1
        out["set_p_us"] = timeit(lambda: buf.set_p(ids, -rng.random(batch), np.full(batch, 10), "m2"), 20)
    return out


def run_peer(name, fn, *args):
    try:
        return fn(*args)
    except Exception as e:  # missing package or an extension that does not load: report, go on
        return {"could_not_run": f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--reps", type=int, default=300)
    ap.add_argument("--buffer", action="store_true", help="also time the SQLite-backed Buffer with n records")
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    prio = rng.random(a.n)
    res = {"n": a.n, "batch": a.batch, "reps": a.reps, "python": sys.version.split()[0],
           "btp_proportional": bench_btp(prio, a.batch, a.reps, rng),
           "cpprb": run_peer("cpprb", bench_cpprb, prio, a.batch, a.reps, rng),
           "torchrl": run_peer("torchrl", bench_torchrl, prio, a.batch, a.reps, rng),
           "btp_rank": bench_rank(prio, a.batch, a.reps, rng)}
    for peer in ("cpprb", "torchrl"):
        if "could_not_run" not in res[peer]:
            res[f"ratio_{peer}_over_btp"] = {k: res[peer][k] / res["btp_proportional"][k]
                                            for k in ("sample_us", "update_us", "update_then_sample_us")}
    if a.buffer:
        res["btp_buffer"] = bench_buffer(a.n, a.batch, a.reps, rng)
    if a.json:
        print(json.dumps(res, indent=2))
        return
    for k, v in res.items():
        print(f"{k}: {v}")


if __name__ == "__main__":
    main()
