"""The fine-tuning loop: minibatches from a source, AdamW with warmup and linear decay.

The loop knows nothing of how examples were chosen: a ``BatchSource`` hands it lists of
``Example``; the pipeline's source draws them from the replay buffer by priority. It runs under
accelerate, so ``accelerate launch -m btp train ...`` trains with DDP (each process draws its own
minibatch; gradients are averaged) and FSDP / DeepSpeed configs pass through ``prepare``.
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

import numpy as np
import torch

from btp.training import checkpoint
from btp.training.config import TrainConfig
from btp.training.data import Example, collate, weighted_loss
from btp.training.logs import MetricsLog
from btp.training.lora import add_lora

__all__ = ["BatchSource", "TrainConfig", "TrainResult", "lr_lambda", "make_accelerator", "seed_everything", "train"]


class BatchSource(Protocol):
    """Hands out training examples. Optional: ``stats() -> dict`` about the last batch (numbers
    merged into the step's metrics) and ``state_dict()`` / ``load_state_dict()`` for checkpoints."""

    def next(self, n: int) -> list[Example]: ...


@dataclass
class TrainResult:
    history: list[dict]  # one row per step run by this call (steps before a resume are not repeated)
    model: object  # the trained model, unwrapped from DDP (a peft model when LoRA is on)
    resumed_from: int = 0  # step of the checkpoint the run resumed from (0 = fresh)
    stats: dict = field(default_factory=dict)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def lr_lambda(cfg: TrainConfig) -> Callable[[int], float]:
    warm = max(1, int(cfg.warmup * cfg.steps))

    def f(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (cfg.steps - step) / max(1, cfg.steps - warm))

    return f


def make_accelerator(model=None, *, cpu: bool | None = None):
    """An ``Accelerator`` on the model's device (``cuda:1`` stays on GPU 1); with neither, CPU exactly
    when there is no GPU.

    ``cpu=True`` is also what makes processes started by torchrun / ``accelerate launch --multi_gpu``
    on a machine without GPUs join one gloo process group (accelerate's MULTI_CPU).
    """
    from accelerate import Accelerator

    device = next(model.parameters()).device if model is not None else None
    if cpu is None:
        cpu = device.type == "cpu" if device is not None else not torch.cuda.is_available()
    if not cpu and device is not None and device.type == "cuda" and device.index is not None:
        torch.cuda.set_device(device.index)  # a single-process Accelerator trains on the current GPU
    return Accelerator(cpu=bool(cpu))


def train(model, tokenizer, source: BatchSource, cfg: TrainConfig, *, checkpoint_dir: Path | None = None,
          log_dir: Path | None = None, log_path: Path | None = None, on_step: Callable[[dict], None] | None = None,
          console=None, description: str = "train", accelerator=None) -> TrainResult:
    """Run ``cfg.steps`` optimizer steps on ``model`` (in place for full fine-tuning).

    With ``checkpoint_dir`` the run saves a checkpoint every ``cfg.checkpoint_every`` steps and first
    resumes from the newest one there. Metrics go to ``log_path`` (JSONL), to TensorBoard under
    ``log_dir`` and to W&B when configured, to ``on_step`` and to a progress bar on ``console``.
    Use one fresh ``accelerator`` per call (it remembers what it prepared).
    """
    acc = accelerator or make_accelerator(model)
    seed_everything(cfg.seed)
    if cfg.lora:
        model = add_lora(model, cfg)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(cfg))
    model, opt = acc.prepare(model, opt)
    acc.register_for_checkpointing(sched)  # stepped by hand: once per optimizer step on every process
    start = checkpoint.load_latest(acc, Path(checkpoint_dir), cfg.trajectory(), source) if checkpoint_dir else 0
    log = MetricsLog(log_dir, tensorboard=cfg.tensorboard, wandb_project=cfg.wandb_project,
                     config=cfg.trajectory(), jsonl=log_path) if acc.is_main_process else None
    bar = _Bar(console if acc.is_main_process else None, description, cfg.steps, start)
    history = []
    try:
        for step in range(start, cfg.steps):
            row = _step(model, opt, params, tokenizer, source, cfg, acc)
            sched.step()
            row["step"] = step + 1
            if checkpoint_dir and cfg.checkpoint_every and (step + 1) % cfg.checkpoint_every == 0 and step + 1 < cfg.steps:
                checkpoint.save(acc, Path(checkpoint_dir), step + 1, cfg.trajectory(), source, cfg.keep_checkpoints)
            history.append(row)
            if acc.is_main_process:
                log.write(row)
                bar.update(row)
                if on_step is not None:
                    on_step(row)
    finally:
        bar.close()
        if log is not None:
            log.close()
    model.eval()
    acc.wait_for_everyone()
    trained = acc.unwrap_model(model)
    acc.free_memory()
    return TrainResult(history=history, model=trained, resumed_from=start)


def _step(model, opt, params, tokenizer, source: BatchSource, cfg: TrainConfig, acc) -> dict:
    """One optimizer step over ``cfg.grad_accum`` micro-batches; metrics averaged over processes."""
    t0 = time.perf_counter()
    lr = opt.param_groups[0]["lr"]
    loss_sum = torch.zeros((), device=acc.device)
    tokens = 0
    extra: dict[str, list[float]] = {}
    autocast = torch.autocast(acc.device.type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16")
    for micro in range(cfg.grad_accum):
        examples = source.next(cfg.batch_size)
        for k, v in (source.stats() if hasattr(source, "stats") else {}).items():
            extra.setdefault(k, []).append(float(v))
        batch = collate(examples, tokenizer, cfg.max_len)
        if not cfg.use_is_weights:
            batch["weights"] = torch.ones_like(batch["weights"])
        batch = {k: v.to(acc.device) for k, v in batch.items()}
        sync = micro == cfg.grad_accum - 1 or acc.num_processes == 1
        with contextlib.nullcontext() if sync else acc.no_sync(model):
            with autocast:
                logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            loss = weighted_loss(logits, batch["labels"], batch["weights"]) / cfg.grad_accum
            acc.backward(loss)
        loss_sum += loss.detach()
        tokens += int(batch["attention_mask"].sum())
    grad_norm = acc.clip_grad_norm_(params, cfg.clip) if cfg.clip > 0 else None
    opt.step()
    opt.zero_grad(set_to_none=True)
    keys = sorted(extra)
    local = torch.tensor([float(loss_sum), float(tokens)] + [float(np.mean(extra[k])) for k in keys],
                         dtype=torch.float64, device=acc.device)
    total = acc.reduce(local, "sum") if acc.num_processes > 1 else local
    n = acc.num_processes
    seconds = time.perf_counter() - t0
    row = {"loss": float(total[0]) / n, "lr": lr, "tokens": int(total[1]), "seconds": seconds,
           "tokens_per_s": float(total[1]) / max(seconds, 1e-9),
           "grad_norm": None if grad_norm is None else float(grad_norm)}
    row.update({k: float(total[2 + i]) / n for i, k in enumerate(keys)})
    if not math.isfinite(row["loss"]):
        from btp.errors import BtpError

        raise BtpError(f"training loss became {row['loss']} (lower train.lr, or use train.precision: fp32)")
    return row


class _Bar:
    """A rich progress bar with loss and tokens/s (nothing when no console)."""

    def __init__(self, console, description: str, total: int, done: int):
        self.bar = None
        if console is not None:
            from btp.progress import progress_bar

            self.bar = progress_bar(console)
            self.bar.start()
            self.job = self.bar.add_task(description, total=total, completed=done, info="")

    def update(self, row: dict) -> None:
        if self.bar is not None:
            self.bar.update(self.job, advance=1, info=f"loss {row['loss']:.3f}  {row['tokens_per_s']:.0f} tok/s")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
