"""The fine-tuning loop: minibatches from a source, AdamW with warmup and linear decay.

The loop knows nothing of how examples were chosen: a ``BatchSource`` hands it lists of
``Example``; the pipeline's source draws them from the replay buffer by priority.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Protocol

import numpy as np
import torch

from btp.training.data import Example, collate, weighted_loss


@dataclass
class TrainConfig:
    """Fine-tuning settings."""

    steps: int = field(default=40, metadata={"help": "optimizer steps"})
    batch_size: int = field(default=4, metadata={"help": "examples per micro-batch"})
    grad_accum: int = field(default=1, metadata={"help": "micro-batches per optimizer step"})
    lr: float = field(default=2e-5, metadata={"help": "peak learning rate (AdamW)"})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay"})
    warmup: float = field(default=0.1, metadata={"help": "fraction of steps of linear warmup; then linear decay to 0"})
    clip: float = field(default=1.0, metadata={"help": "gradient-norm clipping (0 = off)"})
    max_len: int = field(default=768, metadata={"help": "max tokens per example (prompt is cut first)"})
    use_is_weights: bool = field(default=False, metadata={"help": "weight each example's loss by its importance-sampling weight"})
    seed: int = field(default=0, metadata={"help": "seed for torch / numpy / random"})


class BatchSource(Protocol):
    def next(self, n: int) -> list[Example]: ...


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


def train(model, tokenizer, source: BatchSource, cfg: TrainConfig, *, log_path: Path | None = None,
          on_step: Callable[[dict], None] | None = None) -> list[dict]:
    """Run ``cfg.steps`` optimizer steps in place on ``model``; returns per-step metrics."""
    seed_everything(cfg.seed)
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.lr,
                            weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(cfg))
    history = []
    for step in range(cfg.steps):
        total_loss, n_tokens = 0.0, 0
        for _ in range(cfg.grad_accum):
            examples = source.next(cfg.batch_size)
            batch = collate(examples, tokenizer, cfg.max_len)
            if not cfg.use_is_weights:
                batch["weights"] = torch.ones_like(batch["weights"])
            batch = {k: v.to(model.device) for k, v in batch.items()}
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            loss = weighted_loss(logits, batch["labels"], batch["weights"]) / cfg.grad_accum
            loss.backward()
            total_loss += float(loss.detach())
            n_tokens += int(batch["attention_mask"].sum())
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip) if cfg.clip > 0 else None
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        row = {"step": step + 1, "loss": total_loss, "lr": sched.get_last_lr()[0], "tokens": n_tokens,
               "grad_norm": None if grad_norm is None else float(grad_norm)}
        history.append(row)
        if log_path is not None:
            with open(log_path, "a") as f:
                f.write(json.dumps(row) + "\n")
        if on_step is not None:
            on_step(row)
    model.eval()
    return history


def config_dict(cfg: TrainConfig) -> dict:
    return asdict(cfg)
