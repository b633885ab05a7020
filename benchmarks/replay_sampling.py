"""Batch sampling and priority updates on 10^6 priorities: btp vs cpprb and TorchRL, in one run.

    python benchmarks/replay_sampling.py [--json] [--n 1000000] [--batch 256] [--reps 300]
                                         [--torchrl-python /work/torchrl-env/bin/python] [--buffer]

Peers: cpprb's PrioritizedReplayBuffer (C++ segment tree) and TorchRL's PrioritizedSampler
(proportional, C++ sum tree ``torchrl._torchrl.SumSegmentTreeFp32``, its default dtype; Fp64 also timed).
TorchRL's extension only loads with the torch release it was built against, so ``--torchrl-python``
runs the TorchRL part in that interpreter (its own virtualenv) as a subprocess of this script, on
the same priorities (saved to a .npy), batch and timing method; without it TorchRL is tried in this
process. A peer that is not installed or does not load is reported as 'could not run' with the reason.
Rank-based sampling has no peer: it is timed on its own and against the sorted-array update it
replaced (np.delete + np.insert on the whole order, O(n)).
Times are per batch (median of --reps), in microseconds, then the median over --rounds rounds (each
round times btp, cpprb and TorchRL back to back, in alternating order); ratio = peer time / btp time
in the same round (> 1: btp faster), median over rounds.
``mean_sampled_priority`` is a sanity check of each proportional sampler: it should be close to
``expected_mean_sampled_priority`` = sum p^2 / sum p.
Also times the Buffer end to end on an SQLite file with 10^6 records when --buffer is given.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

KEYS = ("sample_us", "update_us", "update_then_sample_us")
MARK = "RESULT "  # prefix of the worker's result line


def timeit(fn, reps: int) -> float:
    for _ in range(5):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts) * 1e6)


def mean_sampled(prio, indices) -> float:
    return float(np.mean(prio[np.asarray(indices)]))


def bench_btp(prio, batch, reps, rng):
    from btp.replay.weightindex import WeightIndex

    idx = WeightIndex(prio)
    check = mean_sampled(prio, idx.draw(100_000, rng)[0])
    pos = rng.choice(prio.size, batch, replace=False)
    return {"sample_us": timeit(lambda: idx.draw(batch, rng), reps),
            "update_us": timeit(lambda: idx.update(pos, prio[pos]), reps),
            "update_then_sample_us": timeit(lambda: (idx.update(pos, prio[pos]), idx.draw(batch, rng)), reps),
            "mean_sampled_priority": check}


def bench_rank(prio, batch, reps, rng):
    from btp.replay.structures import RankStructure

    t0 = time.perf_counter()
    s = RankStructure(prio, 1.0)
    build = (time.perf_counter() - t0) * 1e6
    pos = rng.choice(prio.size, batch, replace=False)
    out = {"build_us": build, "sample_us": timeit(lambda: s.draw(batch, rng), reps),
           "update_us": timeit(lambda: s.set(pos, rng.random(batch)), reps),
           "update_then_sample_us": timeit(lambda: (s.set(pos, rng.random(batch)), s.draw(batch, rng)), reps)}
    order = np.argsort(-prio, kind="stable")
    key = -prio[order]

    def sorted_array_update():  # the replaced O(n) update: drop the k items, insert them at their new keys
        nonlocal order, key
        k = -rng.random(batch)
        drop = np.zeros(order.size, dtype=bool)
        drop[pos] = True
        keep = ~drop[order]
        order, key = order[keep], key[keep]
        s_ = np.argsort(k)
        at = np.searchsorted(key, k[s_], side="right")
        order, key = np.insert(order, at, pos[s_]), np.insert(key, at, k[s_])

    out["sorted_array_update_us"] = timeit(sorted_array_update, max(20, reps // 10))
    out["ratio_sorted_array_over_btp_update"] = out["sorted_array_update_us"] / out["update_us"]
    return out


def bench_cpprb(prio, batch, reps, rng):
    import cpprb

    rb = cpprb.PrioritizedReplayBuffer(prio.size, {"i": {"dtype": np.int32}}, alpha=1.0)
    rb.add(i=np.arange(prio.size, dtype=np.int32), priorities=prio)
    pos = rng.choice(prio.size, batch, replace=False)
    from importlib.metadata import version

    check = mean_sampled(prio, rb.sample(100_000, beta=0.0)["indexes"])
    new = prio[pos]
    return {"version": version("cpprb"),
            "sample_us": timeit(lambda: rb.sample(batch, beta=0.0), reps),
            "update_us": timeit(lambda: rb.update_priorities(pos, new), reps),
            "update_then_sample_us": timeit(lambda: (rb.update_priorities(pos, new), rb.sample(batch, beta=0.0)), reps),
            "mean_sampled_priority": check}


def bench_torchrl(prio, batch, reps, rng, dtype_name="float32"):
    import torch
    import torchrl
    from torchrl.data.replay_buffers.samplers import PrioritizedSampler
    from torchrl.data.replay_buffers.storages import LazyTensorStorage

    dtype = getattr(torch, dtype_name)
    storage = LazyTensorStorage(prio.size)
    storage.set(torch.arange(prio.size), torch.zeros(prio.size))
    s = PrioritizedSampler(prio.size, alpha=1.0, beta=0.0, eps=0.0, dtype=dtype)
    tree = type(s._sum_tree)
    if tree.__module__ != "torchrl._torchrl":  # only the C++ sum tree is the peer we mean to time
        raise RuntimeError(f"PrioritizedSampler uses {tree.__module__}.{tree.__name__}, not the C++ sum tree")
    s.update_priority(torch.arange(prio.size), torch.as_tensor(prio, dtype=dtype))
    check = mean_sampled(prio, s.sample(storage, 100_000)[0].numpy())
    pos = torch.as_tensor(rng.choice(prio.size, batch, replace=False))
    new = torch.as_tensor(prio[pos.numpy()], dtype=dtype)
    return {"version": torchrl.__version__, "torch": torch.__version__, "dtype": dtype_name,
            "sum_tree": f"{tree.__module__}.{tree.__name__}",
            "sample_us": timeit(lambda: s.sample(storage, batch), reps),
            "update_us": timeit(lambda: s.update_priority(pos, new), reps),
            "update_then_sample_us": timeit(lambda: (s.update_priority(pos, new), s.sample(storage, batch)), reps),
            "mean_sampled_priority": check}


TORCHRL = {"torchrl": "float32", "torchrl_fp64": "float64"}  # result name -> sum-tree dtype (float32 is its default)


def bench_torchrl_all(prio, batch, reps, rng) -> dict:
    return {name: run_peer(name, bench_torchrl, prio, batch, reps, rng, dt) for name, dt in TORCHRL.items()}


def torchrl_in(python: str, prio_path: str, batch: int, reps: int) -> dict:
    """The TorchRL part run by another interpreter (a virtualenv where torchrl's extension loads)."""
    cmd = [python, os.path.abspath(__file__), "--worker", "torchrl", "--priorities", prio_path,
           "--batch", str(batch), "--reps", str(reps)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith(MARK)]  # torchrl logs to stdout too
    if p.returncode != 0 or not lines:
        last = (p.stderr.strip().splitlines() or ["no output"])[-1]
        return {name: {"could_not_run": f"{python} exited {p.returncode}: {last[:200]}"} for name in TORCHRL}
    out = json.loads(lines[-1][len(MARK):])
    for r in out.values():
        r["python"] = python
    return out


def one_round(prio, a, rng, prio_path, flip: bool) -> dict:
    """btp, cpprb and TorchRL timed back to back (order reversed when ``flip``, so load drift evens out)."""
    steps = [lambda: {"btp_proportional": bench_btp(prio, a.batch, a.reps, rng)},
             lambda: {"cpprb": run_peer("cpprb", bench_cpprb, prio, a.batch, a.reps, rng)},
             lambda: (torchrl_in(a.torchrl_python, prio_path, a.batch, a.reps) if a.torchrl_python
                      else bench_torchrl_all(prio, a.batch, a.reps, rng))]
    out: dict = {}
    for step in (steps[::-1] if flip else steps):
        out.update(step())
    return out


def combine(runs: list[dict]) -> dict:
    """Median over rounds of each time; the per-round values are kept under '<key>_rounds'."""
    failed = [r for r in runs if "could_not_run" in r]
    if failed:
        return failed[0]
    out = dict(runs[0])
    for k in KEYS:
        vals = [r[k] for r in runs]
        out[k], out[f"{k}_rounds"] = float(np.median(vals)), vals
    return out


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
    ap.add_argument("--priorities", help="a .npy of priorities to use instead of n uniform(0,1) draws (seed 0)")
    ap.add_argument("--torchrl-python", help="interpreter of a virtualenv where torchrl loads; runs the TorchRL part there")
    ap.add_argument("--buffer", action="store_true", help="also time the SQLite-backed Buffer with n records")
    ap.add_argument("--worker", choices=["torchrl"], help=argparse.SUPPRESS)
    ap.add_argument("--rounds", type=int, default=3, help="rounds of btp/cpprb/TorchRL timings (medians over rounds)")
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    prio = np.load(a.priorities) if a.priorities else rng.random(a.n)
    if a.worker:  # child process: time TorchRL only and print JSON
        print(MARK + json.dumps(bench_torchrl_all(prio, a.batch, a.reps, np.random.default_rng(1))))
        return
    with tempfile.TemporaryDirectory() as d:
        prio_path = a.priorities or os.path.join(d, "priorities.npy")
        if not a.priorities:
            np.save(prio_path, prio)
        runs = [one_round(prio, a, rng, prio_path, flip=r % 2 == 1) for r in range(a.rounds)]
    res = {"n": int(prio.size), "batch": a.batch, "reps": a.reps, "rounds": a.rounds, "python": sys.version.split()[0],
           "expected_mean_sampled_priority": float((prio**2).sum() / prio.sum())}
    names = ("btp_proportional", "cpprb", *TORCHRL)
    res.update({name: combine([r[name] for r in runs]) for name in names})
    for peer in names[1:]:
        if "could_not_run" not in res[peer]:  # ratio per round (same load), then the median
            res[f"ratio_{peer}_over_btp"] = {k: float(np.median([r[peer][k] / r["btp_proportional"][k] for r in runs]))
                                            for k in KEYS}
    res["btp_rank"] = bench_rank(prio, a.batch, a.reps, rng)
    if a.buffer:
        res["btp_buffer"] = bench_buffer(int(prio.size), a.batch, a.reps, rng)
    if a.json:
        print(json.dumps(res, indent=2))
        return
    for k, v in res.items():
        print(f"{k}: {v}")


if __name__ == "__main__":
    main()
