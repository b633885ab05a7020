"""GPU check of btp's CUDA paths: beam search, temperature sampling and training, cuda against cpu.

    PYTHONPATH=src python3 benchmarks/cuda_check.py [--json] [--device cuda|cpu] [--k 3]
                                                    [--max-new-tokens 48]

Needs no weights, no network and no dataset (run it from the repository root). The model is built
as tests/conftest.py's ``tiny_model_dir`` builds it (a 2-layer Llama, random weights from a fixed
seed, tied embeddings), then taught for 100 AdamW steps on the CPU (a few seconds) to answer five
small function tasks in btp's chat format, so that its beams write code, close the fence (btp's stop
rule then ends them) and finish at various lengths. The fixture's tokenizer is SmolLM2's (it needs
the model cache); here it is a byte-level BPE (vocab <= 512) trained in memory on those prompts and
answers, with a ChatML chat template like SmolLM2's. Every model compared is a copy of those weights.

Checks (one line each; ``--json``: one JSON object; exit status 1 when any fails):

* ``transformers_api``: which keyword btp's engine passes its KV cache under
  (``beam.cache_keyword``: ``cache`` from the ``past_key_values`` -> ``cache`` rename on, e.g.
  5.24; ``past_key_values`` before, e.g. 5.17, where ``cache=`` was silently swallowed and every
  beam failed on ``None.shape``). Fails if it is a keyword this model's forward does not take.
* ``beam_fp32``: ``HFSampler(method="beam")`` (what ``btp sample --backend hf`` runs) on ``--device``
  in float32 vs the same weights on cpu in float32: same k token sequences, raw texts and programs
  per task, per-token log-probs, scores and program log-prob sums within 1e-3. Seconds per call.
* ``beam_vs_generate``: btp's ``BeamSearch`` (no stop rule) on the device gives the beams and scores
  (within 1e-3) of transformers' own ``generate(num_beams=k)`` on the device: catches a wrong search
  that cpu and device would share (e.g. a transformers API change).
* ``beam_bf16``: ``beam_fp32``'s run in bfloat16 on the device (btp never picks a dtype itself:
  ``model.dtype`` / ``--dtype`` default to float32; bfloat16 is the other documented choice).
  Passes when it runs, every task gets k beams and every log-prob is finite; reports how many tasks
  keep the cpu fp32 beams and the largest log-prob difference (bf16 is not expected to match).
* ``sample``: ``HFSampler(method="sample")`` on the device: the same seed twice gives the same
  programs and log-probs; log-probs finite and <= 0; another seed gives other programs.
* ``train_full`` / ``train_lora``: the beam programs go into a SQLite replay ``Buffer``; one batch
  drawn from it is repeated for ``btp.training.train`` steps (full fine-tuning in fp32, then LoRA
  under bf16 autocast): losses finite and the last below the first, parameters on the device, a
  resumable checkpoint written, ``save_model`` output reloads with the trained logits.
* ``env``: GPU name, torch / transformers / accelerate / peft versions, peak GPU memory.

Seen 2026-11-27 on an NVIDIA H200 (torch 2.11.0+cu130, transformers 5.17.0, Python 3.12): every
check passes; fp32 beams identical to the cpu's (token log-probs within 7.6e-6), btp's beams match
``generate`` (scores within 3.1e-7), bf16 keeps the fp32 beams on 4 of 5 tasks, sampling is
reproducible, full and LoRA training lower the loss on cuda and reload; peak GPU memory 73 MiB.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import inspect
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

TOL = 1e-3
TASKS = [("add", "def add(a, b):\n    \"\"\"Return a + b.\"\"\"\n", "    return a + b"),
         ("is_even", "def is_even(n):\n    \"\"\"True when n is even.\"\"\"\n", "    return n % 2 == 0"),
         ("rev", "def rev(s):\n    \"\"\"Return s reversed.\"\"\"\n", "    return s[::-1]"),
         ("fib", "def fib(n):\n    \"\"\"The n-th Fibonacci number, fib(0) = 0.\"\"\"\n",
          "    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a"),
         ("total", "def total(xs):\n    \"\"\"Sum of the list xs.\"\"\"\n",
           "    s = 0\n    for x in xs:\n        s += x\n    return s")]
CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def build_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from btp.sampling.prompts import user_message
    from btp.training import completion_text

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=512, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    texts = [user_message(t) + completion_text(t.prompt + body) for t, (*_, body) in zip(tasks(), TASKS)]
    tk.train_from_iterator(texts, trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                  pad_token="<|endoftext|>")
    tok.chat_template = CHATML
    return tok


def build_model(tok, seed: int, steps: int = 100):
    """A 2-layer Llama from ``seed``, then ``steps`` AdamW steps on the CPU (the same weights on every
    machine) on the tasks' chat prompts and reference answers (a fenced block, then EOS)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from btp.sampling.prompts import render_prompt
    from btp.training import Example, collate, completion_text

    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, tie_word_embeddings=True)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(cfg)
    batch = collate([Example(render_prompt(t, tok), completion_text(t.prompt + body))
                     for t, (_, _, body) in zip(tasks(), TASKS)], tok, 512)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(steps):
        model(**{k: batch[k] for k in ("input_ids", "attention_mask", "labels")}).loss.backward()
        opt.step()
        opt.zero_grad()
    return model.eval()


def tasks():
    from btp.tasks.types import AssertTest, Task

    return [Task(f"t/{name}", prompt, (AssertTest("assert candidate is not None"),), entry_point=name)
            for name, prompt, _ in TASKS]


def sample(model, tok, args, **kw) -> tuple[dict, float]:
    """{task_id: [(tokens, logprobs, score, raw, program, logprob_sum)] best first}, seconds of the call."""
    from btp.sampling.hf import HFSampler

    hyps = {}

    class Recording(HFSampler):
        def _to_sample(self, task, hyp, rank, rule):
            s = super()._to_sample(task, hyp, rank, rule)
            row = (hyp.tokens, hyp.logprobs, hyp.score, s.raw, s.program, s.logprob_sum)
            hyps.setdefault(task.task_id, []).append(row)
            return s

    sampler = Recording(model, tok, "tiny", max_new_tokens=args.max_new_tokens, batch_size=2, **kw)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    sync()
    t0 = time.perf_counter()
    n = sum(1 for _ in sampler.sample(tasks(), args.k))
    sync()
    assert n == len(TASKS), f"{n} tasks came back of {len(TASKS)}"
    return hyps, time.perf_counter() - t0


def compare(ref: dict, got: dict) -> dict:
    """Tasks whose k token sequences, texts and programs are identical; largest log-prob differences."""
    same, d_tok, d_sum = 0, 0.0, 0.0
    for t, hs in ref.items():
        gs = got.get(t, [])
        if len(gs) == len(hs) and all(h[0] == g[0] and h[3:5] == g[3:5] for h, g in zip(hs, gs)):
            same += 1
            for h, g in zip(hs, gs):
                d_tok = max([d_tok, abs(h[2] - g[2])] + [abs(a - b) for a, b in zip(h[1], g[1])])
                if (h[5] is None) != (g[5] is None):
                    d_sum = math.inf
                elif h[5] is not None:
                    d_sum = max(d_sum, abs(h[5] - g[5]))
    return {"same_tasks": same, "tasks": len(ref), "max_token_logprob_diff": d_tok, "max_program_logprob_diff": d_sum}


def all_finite(hyps: dict) -> bool:
    lps = [x for hs in hyps.values() for h in hs for x in h[1]]
    return bool(lps) and all(math.isfinite(x) and x <= 1e-6 for x in lps)


def model_on(base, args, device: str, dtype=torch.float32):
    """A copy of ``base`` on ``device`` in ``dtype``."""
    return copy.deepcopy(base).to(device, dtype)


def check_beam(base, tok, args, out: dict) -> dict:
    ref, t_cpu = sample(model_on(base, args, "cpu"), tok, args)
    dev = model_on(base, args, args.device)
    sample(dev, tok, args)  # warm-up (kernel loading, allocator)
    got, t_dev = sample(dev, tok, args)
    c = compare(ref, got)
    gap = min((abs(a[2] - b[2]) for hs in ref.values() for a, b in zip(hs, hs[1:])), default=None)  # tiny: a near tie
    lengths = sorted({len(h[0]) for hs in ref.values() for h in hs})  # several: beams ended by EOS, stop rule, length
    out["beam_fp32"] = dict(c, ok=c["same_tasks"] == c["tasks"] and c["max_token_logprob_diff"] < TOL
                            and c["max_program_logprob_diff"] < TOL, seconds_cpu=t_cpu, seconds_device=t_dev,
                            min_score_gap=gap, hypothesis_lengths=lengths)
    return ref


def check_generate(base, tok, args, out: dict) -> None:
    """btp's engine (no stop rule) against transformers' own beam search, both on the device."""
    from btp.sampling.beam import BeamSearch
    from btp.sampling.prompts import render_prompt
    from btp.sampling.stops import StopRule

    model, eos, n = model_on(base, args, args.device), tok.eos_token_id, 24
    ids = [tok(render_prompt(t, tok), add_special_tokens=False)["input_ids"] for t in tasks()]
    eng = BeamSearch(model, eos_id=eos, k=args.k, max_new_tokens=n, slots=2, piece=lambda t: tok.decode([t]))
    got, same, diff = dict(eng.run(ids, [StopRule()] * len(ids))), 0, 0.0
    for i, p in enumerate(ids):
        ref = model.generate(torch.tensor([p], device=args.device), max_new_tokens=n, num_beams=args.k, do_sample=False,
                             num_return_sequences=args.k, early_stopping=True, pad_token_id=eos, eos_token_id=eos,
                             output_scores=True, return_dict_in_generate=True)
        seqs = [[t for t in s if t != eos] for s in ref.sequences[:, len(p):].tolist()]
        if [h.tokens for h in got[i]] == seqs:
            same += 1
            diff = max([diff] + [abs(h.score - s) for h, s in zip(got[i], ref.sequences_scores.tolist())])
    out["beam_vs_generate"] = {"ok": same == len(ids) and diff < TOL, "same_tasks": same, "tasks": len(ids),
                               "max_score_diff": diff}


def check_bf16(base, tok, ref: dict, args, out: dict) -> None:
    bf = model_on(base, args, args.device, torch.bfloat16)
    sample(bf, tok, args)
    got, t = sample(bf, tok, args)
    out["beam_bf16"] = dict(compare(ref, got), ok=all_finite(got) and all(len(h) == args.k for h in got.values()),
                            seconds_device=t, model_dtype=str(bf.dtype))


def check_sample(model, tok, args, out: dict) -> None:
    kw = dict(method="sample", temperature=2.0, top_p=0.98)  # hot: the tiny model is sure of its answers
    a, t = sample(model, tok, args, seed=1, **kw)
    b, _ = sample(model, tok, args, seed=1, **kw)
    c, _ = sample(model, tok, args, seed=2, **kw)
    rep = compare(a, b)
    other = compare(a, c)["same_tasks"]
    out["sample"] = dict(ok=rep["same_tasks"] == rep["tasks"] and rep["max_token_logprob_diff"] == 0.0 and all_finite(a)
                         and other < len(TASKS), reproducible_tasks=rep["same_tasks"], tasks=rep["tasks"],
                         same_tasks_other_seed=other, seconds_device=t)


def check_train(base, tok, beams: dict, args, tmp: Path, out: dict, *, lora: bool) -> None:
    from transformers import AutoModelForCausalLM

    from btp.replay import Buffer, PriorityConfig, Record
    from btp.sampling.extract import answer_code
    from btp.sampling.prompts import render_prompt
    from btp.training import Example, TrainConfig, completion_text, save_model, train
    from btp.training.checkpoint import complete_checkpoints

    name = "train_lora" if lora else "train_full"
    by_id = {t.task_id: t for t in tasks()}
    with Buffer(tmp / f"{name}.sqlite") as buf:  # the pipeline's path: beams -> records -> a drawn batch
        buf.add_tasks(by_id.values())
        buf.add([Record(t, h[4], pass_rate=1.0 / (1 + r), model="tiny", logprob_sum=h[5], n_tokens=len(h[0]),
                        beam_rank=r) for t, hs in beams.items() for r, h in enumerate(hs)])
        batch = buf.sample(4, PriorityConfig(), np.random.default_rng(0))
        examples = [Example(render_prompt(task, tok), completion_text(answer_code(task, r.program)))
                    for r in batch.records for task in [by_id[r.task_id]]]

    class Repeat:  # the same batch every step: the loss must go down
        def next(self, n):
            return examples[:n]

    model = copy.deepcopy(base).to(args.device)
    cfg = TrainConfig(steps=8, batch_size=4, lr=3e-3 if lora else 1e-3, warmup=0.0, max_len=256, lora=lora, lora_r=8,
                      precision="bf16" if lora else "fp32", checkpoint_every=4, tensorboard=False, seed=args.seed)
    res = train(model, tok, Repeat(), cfg, checkpoint_dir=tmp / f"{name}-ckpt")
    losses = [row["loss"] for row in res.history]
    devices = sorted({p.device.type for p in res.model.parameters()})
    probe = torch.tensor([tok(examples[0].prompt, add_special_tokens=False)["input_ids"][-32:]], device=args.device)
    with torch.no_grad():
        want = res.model(input_ids=probe).logits.float()
        saved = save_model(res.model, tok, tmp / f"{name}-model")  # LoRA: merged into the weights
        again = AutoModelForCausalLM.from_pretrained(saved).to(args.device).eval()(input_ids=probe).logits.float()
    reload_diff = float((want - again).abs().max())
    ckpts = [s for s, _ in complete_checkpoints(tmp / f"{name}-ckpt")]
    want_dev = torch.device(args.device).type
    out[name] = dict(ok=all(map(math.isfinite, losses)) and losses[-1] < losses[0] and devices == [want_dev]
                     and ckpts == [4] and reload_diff < TOL, losses=[round(x, 4) for x in losses],
                     param_devices=devices, checkpoints=ckpts, reload_max_logit_diff=reload_diff,
                     seconds=sum(row["seconds"] for row in res.history))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    import transformers

    transformers.utils.logging.disable_progress_bar()
    torch.set_float32_matmul_precision("highest")  # no TF32: fp32 on the GPU must match fp32 on the CPU
    cuda = args.device.startswith("cuda")
    out: dict = {"env": {"device": args.device, "gpu": torch.cuda.get_device_name(args.device) if cuda else None,
                         "python": sys.version.split()[0], "torch": torch.__version__}}
    for mod in ("transformers", "accelerate", "peft"):
        out["env"][mod] = getattr(importlib.util.find_spec(mod) and __import__(mod), "__version__", None)
    tok = build_tokenizer()
    base = build_model(tok, args.seed)
    from btp.sampling.beam import cache_keyword

    keyword = cache_keyword(base)
    out["transformers_api"] = {"ok": keyword in inspect.signature(base.forward).parameters, "cache_keyword": keyword}
    if cuda:
        torch.cuda.reset_peak_memory_stats(args.device)
    beams = None
    with tempfile.TemporaryDirectory(prefix="btp-cuda-check-") as tmp:
        steps = [("beam_fp32", lambda: check_beam(base, tok, args, out)),
                 ("beam_vs_generate", lambda: check_generate(base, tok, args, out)),
                 ("beam_bf16", lambda: check_bf16(base, tok, beams, args, out)),
                 ("sample", lambda: check_sample(model_on(base, args, args.device), tok, args, out)),
                 ("train_full", lambda: check_train(base, tok, beams, args, Path(tmp), out, lora=False)),
                 ("train_lora", lambda: check_train(base, tok, beams, args, Path(tmp), out, lora=True))]
        for name, fn in steps:
            try:
                if name in ("beam_bf16", "train_full", "train_lora") and beams is None:
                    raise RuntimeError("beam_fp32 failed: no cpu beams to compare with or to fill the buffer with")
                r = fn()
                beams = r if name == "beam_fp32" else beams
            except Exception as e:  # report and go on with the next check
                out[name] = {"ok": False, "error": f"{type(e).__name__}: {e}"[:600]}
    if cuda:
        out["env"]["peak_gpu_memory_mib"] = round(torch.cuda.max_memory_allocated(args.device) / 2**20, 1)
    out["ok"] = all(v["ok"] for k, v in out.items() if isinstance(v, dict) and "ok" in v)
    if args.json:
        print(json.dumps(out, indent=1, default=str))
    else:
        for k, v in out.items():
            if isinstance(v, dict):
                tag = "" if "ok" not in v else ("PASS " if v["ok"] else "FAIL ")
                print(f"{tag}{k}: " + "  ".join(f"{a}={b:.3g}" if isinstance(b, float) else f"{a}={b}"
                                                for a, b in v.items() if a != "ok"))
        print("ALL PASS" if out["ok"] else "SOME CHECKS FAILED")
    sys.exit(0 if out["ok"] else 1)


if __name__ == "__main__":
    main()
