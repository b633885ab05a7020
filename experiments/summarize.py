"""Tables for docs/RESULTS.md from the run directories the experiment scripts fill.

    python experiments/summarize.py [--runs runs] [--json out.json]

Per-task results come from each run's ``eval-round-N.jsonl`` (every evaluated program). A
trained model is compared with the untrained one on the same tasks, paired by task:

* strict accuracy: exact McNemar test on the tasks solved by one model but not the other;
* pass rate: 95% paired bootstrap interval (10,000 resamples of tasks, seed 0) of the difference.

Ablations (``runs/abl/<variant>-s<seed>``) are reported as mean and Student-t 95% interval over
seeds, and each variant against ``alpha0.5`` (proportional, the default) by the paired bootstrap
over (seed, task) pairs. A difference is called significant when its interval excludes 0 (or
McNemar p < 0.05).
"""

from __future__ import annotations

import argparse
import json
import math
import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from btp import runlog
from btp.report.plots import ci95


def per_task(path: Path) -> dict[str, tuple[float, bool]]:
    """task_id -> (pass rate, solved) of the first program of each task (ids are unique across datasets)."""
    out = {}
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        row = json.loads(line)
        key = row["task_id"]
        if key not in out:
            out[key] = (float(row["pass_rate"]), row["total"] > 0 and row["passed"] == row["total"])
    return out


def mcnemar(a: list[bool], b: list[bool]) -> float:
    """Exact two-sided McNemar p-value for paired binary outcomes."""
    n01 = sum(1 for x, y in zip(a, b) if not x and y)
    n10 = sum(1 for x, y in zip(a, b) if x and not y)
    n = n01 + n10
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(0, min(n01, n10) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def bootstrap_diff(a: list[float], b: list[float], reps: int = 10000, seed: int = 0) -> tuple[float, float, float]:
    """Mean of b - a and its 95% paired bootstrap interval."""
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), size=(reps, len(d)))].mean(1)
    return float(d.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def compare(base: dict, new: dict, dataset_prefix: str) -> dict | None:
    keys = sorted(k for k in base if k in new and k.lower().startswith(dataset_prefix))
    if not keys:
        return None
    a_pr, b_pr = [base[k][0] for k in keys], [new[k][0] for k in keys]
    a_s, b_s = [base[k][1] for k in keys], [new[k][1] for k in keys]
    d, lo, hi = bootstrap_diff(a_pr, b_pr)
    return {"tasks": len(keys), "pass_rate_before": float(np.mean(a_pr)), "pass_rate_after": float(np.mean(b_pr)),
            "pass_rate_diff": d, "pass_rate_ci": [lo, hi], "strict_before": float(np.mean(a_s)),
            "strict_after": float(np.mean(b_s)), "solved_before": sum(a_s), "solved_after": sum(b_s),
            "mcnemar_p": mcnemar(a_s, b_s)}


def stage_costs(run: Path) -> list[dict]:
    rows = []
    for m in runlog.read(run / "metrics.jsonl"):
        if m.get("stage") in ("sample", "train_done", "eval"):
            rows.append({k: m.get(k) for k in ("stage", "round", "dataset", "tasks", "programs", "all_pass", "seconds")})
    return rows


def fmt_cmp(name: str, c: dict | None) -> str:
    if c is None:
        return f"| {name} | (not run) | | | | |"
    sig = "yes" if (c["pass_rate_ci"][0] > 0 or c["pass_rate_ci"][1] < 0) else "no"
    return (f"| {name} | {c['tasks']} | {c['pass_rate_before']:.3f} → {c['pass_rate_after']:.3f} "
            f"({c['pass_rate_diff']:+.3f}, CI [{c['pass_rate_ci'][0]:+.3f}, {c['pass_rate_ci'][1]:+.3f}], sig. {sig}) | "
            f"{c['strict_before']:.3f} → {c['strict_after']:.3f} ({c['solved_before']} → {c['solved_after']} solved) | "
            f"{c['mcnemar_p']:.3g} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", default="runs")
    ap.add_argument("--json", dest="json_out")
    args = ap.parse_args()
    runs = Path(args.runs)
    out: dict = {}
    base = per_task(runs / "c1_teacher" / "eval-round-0.jsonl")
    print("## Claims (paired by task against the untrained SmolLM2, C1's round 0)\n")
    print("| run / dataset | tasks | pass rate before → after (diff, 95% CI) | strict accuracy before → after | McNemar p |")
    print("|---|---|---|---|---|")
    for run in ("c1_teacher50", "c2_self"):
        after = per_task(runs / run / "eval-round-1.jsonl")
        for ds in ("humaneval", "mbpp"):
            c = compare(base, after, ds) if after else None
            out.setdefault("claims", {})[f"{run}/{ds}"] = c
            print(fmt_cmp(f"{run} / {ds}", c))
    print("\n## Stage costs (seconds, from metrics.jsonl)\n")
    for run in ("c1_teacher", "c1_teacher50", "c2_self"):
        rows = stage_costs(runs / run)
        out.setdefault("costs", {})[run] = rows
        for r in rows:
            print(f"- {run}: {r['stage']} round {r['round']} {r.get('dataset') or ''} "
                  f"{'' if r.get('programs') is None else str(r['programs']) + ' programs '}{r['seconds']} s")

    for d in sorted((runs / "abl").glob("*-s*")):
        rows = stage_costs(d)
        if rows:
            out.setdefault("costs", {})[d.name] = rows
            print(f"- abl/{d.name}: " + ", ".join(f"{r['stage']} {r['seconds']} s" for r in rows))
    variants: dict[str, dict[int, dict]] = defaultdict(dict)
    for d in sorted((runs / "abl").glob("*-s*")):
        m = re.fullmatch(r"(.+)-s(\d+)", d.name)
        res = per_task(d / "eval-round-1.jsonl")
        if m and res:
            variants[m.group(1)][int(m.group(2))] = res
    if variants:
        print("\n## Ablations (MBPP test 11-60 after 20 steps; teacher runs on C1's buffer, self_* on their own"
              " programs; mean over seeds ± 95% t-interval)\n")
        print("| variant | seeds | pass rate | strict accuracy | vs untrained: pass-rate diff [95% CI] | vs reference: pass-rate diff [95% CI] | sig. |")
        print("|---|---|---|---|---|---|---|")
        for name in sorted(variants, key=lambda v: (v.startswith("self_"), not v.startswith("alpha"), v)):
            ref_name = "self_beam" if name.startswith("self_") else "alpha0.5"  # teacher runs vs the default
            ref = variants.get(ref_name, {}) if name != ref_name else {}
            seeds = variants[name]
            prs = [float(np.mean([v[0] for v in res.values()])) for res in seeds.values()]
            sas = [float(np.mean([v[1] for v in res.values()])) for res in seeds.values()]
            a, b = [], []
            for s, res in seeds.items():
                if s in ref:
                    keys = sorted(set(res) & set(ref[s]))
                    a += [ref[s][k][0] for k in keys]
                    b += [res[k][0] for k in keys]
            row = {"seeds": sorted(seeds), "pass_rate": [float(np.mean(prs)), ci95(prs)],
                   "strict": [float(np.mean(sas)), ci95(sas)]}
            if a:
                d, lo, hi = bootstrap_diff(a, b)
                row["vs_" + ref_name] = [d, lo, hi]
                cmp_txt, sig = f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}] vs {ref_name}", "yes" if lo > 0 or hi < 0 else "no"
            else:
                cmp_txt, sig = "—", ""
            ua = [base[k][0] for res in seeds.values() for k in sorted(res) if k in base]
            ub = [res[k][0] for res in seeds.values() for k in sorted(res) if k in base]
            du, ulo, uhi = bootstrap_diff(ua, ub) if ua else (float("nan"),) * 3
            row["vs_untrained"] = [du, ulo, uhi]
            out.setdefault("ablations", {})[name] = row
            print(f"| {name} | {len(seeds)} | {np.mean(prs):.3f} ± {ci95(prs):.3f} | {np.mean(sas):.3f} ± {ci95(sas):.3f} "
                  f"| {du:+.3f} [{ulo:+.3f}, {uhi:+.3f}] | {cmp_txt} | {sig} |")
        base50 = {k: v for k, v in base.items() if k.startswith("mbpp")}
        keys = sorted(k for k in base50 if any(k in res for seeds in variants.values() for res in seeds.values()))
        if keys:
            print(f"\nUntrained SmolLM2 on the same {len(keys)} tasks: pass rate "
                  f"{np.mean([base50[k][0] for k in keys]):.3f}, strict accuracy {np.mean([base50[k][1] for k in keys]):.3f}.")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
