"""Sampling throughput: btp's ``hf`` sampler vs a plain loop of ``model.generate`` per task.

    python benchmarks/sample_throughput.py [--json] [--tasks 24] [--k 3] [--max-new-tokens 192]
        [--batch-size 8] [--rounds 1] [--threads 2]

Same 24 HumanEval tasks (the first ``--tasks``), model SmolLM2-135M-Instruct (fp32, CPU), same
prompts (btp's chat prompt), ``k`` beams, same ``max_new_tokens``. Sides, each in a fresh process,
alternated ``--rounds`` times (the order flips every round) so both see the same machine load:

* ``btp``: ``HFSampler`` (continuous batching over ``--batch-size`` task slots, stop after the
  closing code fence).
* ``generate+stop``: per task ``model.generate(num_beams=k, num_return_sequences=k)`` with btp's
  stop rule as a logits processor (``StopAfterFence``): the fair comparison, same search, same stop.
* ``generate``: the same loop without any stop rule (a plain loop as people write it); beams run
  until EOS or ``max_new_tokens``, so its raw texts differ after the closing fence; its programs
  (after extraction) are compared too.

Reported per side: seconds, programs/s, generated tokens/s (tokens of the returned beams, EOS
excluded), peak RSS of the worker process; ratios btp/baseline; how many tasks give exactly the
same k texts (and programs) as btp.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

SIDES = ("btp", "generate+stop", "generate")


def worker(side: str, n: int, k: int, max_new: int, batch_size: int, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    from btp.models import load_model
    from btp.sampling.extract import extract
    from btp.sampling.hf import HFSampler
    from btp.sampling.prompts import render_prompt
    from btp.sampling.stops import StopAfterFence
    from btp.tasks import DatasetSpec, load_tasks

    model, tok = load_model("smollm2-135m-instruct")
    tasks = load_tasks(DatasetSpec("humaneval", limit=n))
    raws, programs, tokens = {}, {}, 0
    t0 = time.perf_counter()
    if side == "btp":
        sampler = HFSampler(model, tok, "smol", max_new_tokens=max_new, batch_size=batch_size)
        for samples in sampler.sample(tasks, k):
            raws[samples[0].task_id] = [s.raw for s in samples]
            programs[samples[0].task_id] = [s.program for s in samples]
            tokens += sum(s.n_generated for s in samples)
    else:
        with torch.no_grad():
            for t in tasks:
                enc = tok([render_prompt(t, tok)], return_tensors="pt", add_special_tokens=False)
                plen = enc["input_ids"].shape[1]
                extra = {"logits_processor": [StopAfterFence(tok, plen, tok.eos_token_id)]} if side == "generate+stop" else {}
                out = model.generate(**enc, max_new_tokens=max_new, num_beams=k, num_return_sequences=k,
                                     do_sample=False, early_stopping=True, pad_token_id=tok.pad_token_id,
                                     eos_token_id=tok.eos_token_id, **extra)
                gen = [[x for x in row if x not in (tok.eos_token_id, tok.pad_token_id)] for row in out[:, plen:].tolist()]
                tokens += sum(len(g) for g in gen)
                raws[t.task_id] = [tok.decode(g, skip_special_tokens=True) for g in gen]
                programs[t.task_id] = [extract(t, r).program for r in raws[t.task_id]]
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"side": side, "seconds": seconds, "programs": sum(len(v) for v in raws.values()), "tokens": tokens,
            "peak_rss_mb": round(peak, 1), "raws": raws, "program_texts": programs}


def run_side(side: str, args) -> dict:
    cmd = [sys.executable, __file__, "--worker", side, "--tasks", str(args.tasks), "--k", str(args.k),
           "--max-new-tokens", str(args.max_new_tokens), "--batch-size", str(args.batch_size),
           "--threads", str(args.threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, TOKENIZERS_PARALLELISM="false"))
    if out.returncode != 0:
        raise SystemExit(f"worker {side} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--tasks", type=int, default=24)
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--max-new-tokens", type=int, default=192)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sides", default=",".join(SIDES))
    ap.add_argument("--worker")
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.tasks, args.k, args.max_new_tokens, args.batch_size, args.threads)))
        return
    sides = args.sides.split(",")
    runs: dict[str, list[dict]] = {s: [] for s in sides}
    for r in range(args.rounds):
        for side in (sides if r % 2 == 0 else sides[::-1]):
            res = run_side(side, args)
            runs[side].append(res)
            if not args.json:
                print(f"round {r + 1} {side:14s} {res['seconds']:8.1f} s  {res['programs'] / res['seconds']:.3f} programs/s  "
                      f"{res['tokens'] / res['seconds']:.1f} tok/s  peak {res['peak_rss_mb']:.0f} MB", flush=True)
    summary = {"config": {k: v for k, v in vars(args).items() if k not in ("worker", "json")}, "sides": {}}
    ref = runs.get("btp", [None])[0]
    for side, rs in runs.items():
        secs = sum(x["seconds"] for x in rs)
        row = {"seconds": [round(x["seconds"], 2) for x in rs], "programs_per_s": sum(x["programs"] for x in rs) / secs,
               "tokens_per_s": sum(x["tokens"] for x in rs) / secs, "tokens": rs[0]["tokens"],
               "peak_rss_mb": max(x["peak_rss_mb"] for x in rs)}
        if ref is not None and side != "btp":
            same_raw = sum(ref["raws"][t] == rs[0]["raws"].get(t) for t in ref["raws"])
            same_prog = sum(ref["program_texts"][t] == rs[0]["program_texts"].get(t) for t in ref["raws"])
            row.update(same_raw_tasks=same_raw, same_program_tasks=same_prog, tasks=len(ref["raws"]),
                       differing_tasks=[t for t in ref["raws"] if ref["raws"][t] != rs[0]["raws"].get(t)])
        summary["sides"][side] = row
    if "btp" in runs:
        b = summary["sides"]["btp"]
        for side in sides:
            if side != "btp":
                s = summary["sides"][side]
                s["ratio_programs_per_s"] = b["programs_per_s"] / s["programs_per_s"]
                s["ratio_seconds"] = sum(s["seconds"]) / sum(b["seconds"])
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        for side, row in summary["sides"].items():
            extra = ""
            if "ratio_programs_per_s" in row:
                extra = (f"  btp/{side} = {row['ratio_programs_per_s']:.2f}x programs/s; same texts on "
                         f"{row['same_raw_tasks']}/{row['tasks']} tasks, same programs on {row['same_program_tasks']}/{row['tasks']}")
            print(f"{side:14s} {row['programs_per_s']:.3f} programs/s  {row['tokens_per_s']:.1f} tok/s  "
                  f"peak {row['peak_rss_mb']:.0f} MB{extra}")


if __name__ == "__main__":
    main()
