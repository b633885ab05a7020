"""Training tokens/s: btp's loop vs TRL's SFTTrainer on the same model, examples, batch, length, precision.

    python benchmarks/train_throughput.py [--json] [--model smollm2-135m-instruct] [--steps 4]
                                          [--batch 4] [--max-len 256] [--repeats 2] [--only btp|trl]

Examples: HumanEval prompts (chat template applied, as the pipeline renders them) with the reference
program as completion, loss on the completion only, one epoch slice of ``steps * batch`` examples,
cut to ``max-len`` tokens. Both sides: AdamW, lr 2e-5 with 10% linear warmup then linear decay,
clipping 1.0, fp32 (or --precision bf16 autocast on both), batch ``--batch``, no gradient
accumulation, no packing, no checkpoints, no logging sinks, on CPU unless a GPU is there.
Each run is its own subprocess (fresh interpreter, so one side's allocator state cannot help or hurt
the other); runs alternate btp, trl, btp, trl, ... and each side's median is reported.
tokens/s counts the non-padding tokens of the examples trained on (identical for both sides) over
the wall time of the training call (btp: ``train()``; TRL: ``trainer.train()``; model loading and
TRL's dataset tokenization excluded). ratio = btp tokens/s / TRL tokens/s (> 1: btp faster).
peak_rss_gib is the worker process's peak resident memory (``ru_maxrss``) including model loading.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time

MARK = "RESULT "


def examples(tok, n: int):
    from btp.sampling.prompts import render_prompt
    from btp.tasks import DatasetSpec, load_tasks
    from btp.training import Example, completion_text

    tasks = load_tasks(DatasetSpec("humaneval"))
    return [Example(render_prompt(t, tok), completion_text(t.reference)) for t in (tasks * (1 + n // len(tasks)))[:n]]


def count_tokens(tok, exs, max_len: int) -> int:
    from btp.training import collate

    return int(collate(exs, tok, max_len)["attention_mask"].sum())


def run_btp(model, tok, exs, args) -> float:
    from btp.training import TrainConfig, train

    class InOrder:
        def __init__(self):
            self.i = 0

        def next(self, n):
            out = exs[self.i:self.i + n]
            self.i += n
            return out

    cfg = TrainConfig(steps=args.steps, batch_size=args.batch, max_len=args.max_len, lr=2e-5, warmup=0.1,
                      precision=args.precision, tensorboard=False, checkpoint_every=0)
    t0 = time.perf_counter()
    train(model, tok, InOrder(), cfg)
    return time.perf_counter() - t0


def run_trl(model, tok, exs, args) -> float:
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    data = Dataset.from_list([{"prompt": e.prompt, "completion": e.completion} for e in exs])
    with tempfile.TemporaryDirectory() as out:
        cfg = SFTConfig(output_dir=out, per_device_train_batch_size=args.batch, gradient_accumulation_steps=1,
                        max_steps=args.steps, learning_rate=2e-5, lr_scheduler_type="linear",
                        warmup_steps=max(1, int(0.1 * args.steps)),
                        max_grad_norm=1.0, weight_decay=0.0, bf16=args.precision == "bf16", max_length=args.max_len,
                        packing=False, completion_only_loss=True, save_strategy="no", report_to="none",
                        logging_steps=10**6, disable_tqdm=True, dataloader_num_workers=0, seed=0)
        trainer = SFTTrainer(model=model, args=cfg, train_dataset=data, processing_class=tok)
        t0 = time.perf_counter()
        trainer.train()
        return time.perf_counter() - t0


def worker(args) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from btp.models import resolve

    path = resolve(args.model)
    tok = AutoTokenizer.from_pretrained(path)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    exs = examples(tok, args.steps * args.batch)
    seconds = (run_btp if args.worker == "btp" else run_trl)(model, tok, exs, args)
    tokens = count_tokens(tok, exs, args.max_len)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(MARK + json.dumps({"seconds": seconds, "tokens": tokens, "tokens_per_s": tokens / seconds,
                             "peak_rss_gib": round(rss, 3), "threads": torch.get_num_threads()}), flush=True)


def spawn(side: str, args) -> dict:
    cmd = [sys.executable, __file__, "--worker", side, "--model", args.model, "--steps", str(args.steps),
           "--batch", str(args.batch), "--max-len", str(args.max_len), "--precision", args.precision]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK):])
    return {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--max-len", type=int, default=256)
    ap.add_argument("--precision", default="fp32", choices=("fp32", "bf16"))
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--only", choices=("btp", "trl"))
    ap.add_argument("--worker", choices=("btp", "trl"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    sides = [args.only] if args.only else ["btp", "trl"]
    runs: dict[str, list[dict]] = {s: [] for s in sides}
    for _ in range(args.repeats):
        for s in sides:
            runs[s].append(spawn(s, args))
            print(f"{s}: {json.dumps(runs[s][-1])}", file=sys.stderr, flush=True)  # kept if later runs are cut off
    report = {"model": args.model, "steps": args.steps, "batch": args.batch, "max_len": args.max_len,
              "precision": args.precision, "repeats": args.repeats, "runs": runs}
    for s in sides:
        ok = [r for r in runs[s] if "error" not in r]
        report[s] = {"tokens_per_s": statistics.median(r["tokens_per_s"] for r in ok) if ok else None,
                     "peak_rss_gib": max(r["peak_rss_gib"] for r in ok) if ok else None,
                     "error": None if ok else runs[s][0]["error"]}
    if len(sides) == 2 and report["btp"]["tokens_per_s"] and report["trl"]["tokens_per_s"]:
        report["ratio_btp_over_trl"] = report["btp"]["tokens_per_s"] / report["trl"]["tokens_per_s"]
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        for s in sides:
            print(f"{s:4s} {report[s]['tokens_per_s'] or float('nan'):9.1f} tokens/s  peak RSS {report[s]['peak_rss_gib']} GiB"
                  + (f"  ({report[s]['error']})" if report[s]["error"] else ""))
        if "ratio_btp_over_trl" in report:
            print(f"ratio btp/trl = {report['ratio_btp_over_trl']:.3f}")


if __name__ == "__main__":
    main()
