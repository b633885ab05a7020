"""Training examples and their tensors: loss on the program tokens only.

The completion the model learns is the program in the same shape the prompt asks for (one fenced
Python block), followed by EOS. Prompt and padding positions get label -100.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

IGNORE = -100


@dataclass(frozen=True)
class Example:
    prompt: str  # exactly the text the model is conditioned on (chat template applied)
    completion: str  # the text to learn
    weight: float = 1.0  # importance-sampling weight (1.0 when not used)


def completion_text(program: str) -> str:
    return f"```python\n{program.strip()}\n```"


def collate(examples: Sequence[Example], tokenizer, max_len: int) -> dict[str, torch.Tensor]:
    """Right-padded input_ids, attention_mask, labels (-100 outside the completion), weights.

    A too-long example keeps its completion start and loses the prompt's beginning first.
    """
    rows, labels = [], []
    for ex in examples:
        p = tokenizer(ex.prompt, add_special_tokens=False)["input_ids"]
        c = tokenizer(ex.completion, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        c = c[:max_len]
        p = p[max(0, len(p) - (max_len - len(c))) :] if len(p) + len(c) > max_len else p
        rows.append(p + c)
        labels.append([IGNORE] * len(p) + c)
    width = max(len(r) for r in rows)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    lab = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (r, l) in enumerate(zip(rows, labels)):
        ids[i, : len(r)] = torch.tensor(r)
        lab[i, : len(l)] = torch.tensor(l)
        mask[i, : len(r)] = 1
    weights = torch.tensor([ex.weight for ex in examples], dtype=torch.float32)
    return {"input_ids": ids, "attention_mask": mask, "labels": lab, "weights": weights}


def weighted_loss(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Mean over examples of (weight x mean token NLL over that example's completion tokens)."""
    shift_logits = logits[:, :-1].float()
    shift_labels = labels[:, 1:]
    nll = torch.nn.functional.cross_entropy(
        shift_logits.reshape(-1, shift_logits.shape[-1]), shift_labels.reshape(-1),
        ignore_index=IGNORE, reduction="none",
    ).view(shift_labels.shape)
    mask = (shift_labels != IGNORE).float()
    per_example = (nll * mask).sum(1) / mask.sum(1).clamp(min=1)
    return (per_example * weights.to(per_example.device)).mean()
