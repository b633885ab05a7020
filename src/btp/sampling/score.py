"""Teacher-forced likelihoods: how probable a given program is under a given model.

Used by ``btp score`` so that programs written by a teacher (or by an earlier model) get a P under
the model being trained, and P2Value means the same thing whichever model wrote the program.

Text scored (``program_item``): the prompt the sampler and the trainer use (``render_prompt``)
followed by the training completion (```` ```python\\n{program}\\n``` ````); the scored tokens are
those overlapping the program's characters (``likelihood.token_span``), so ``n_tokens`` counts the
program's own tokens, fences excluded. A sampler's own log-probs cover the *generated* code tokens
of the same program; the two agree to float precision when the program is exactly what the model
generated inside its fence (see docs/SAMPLING.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from btp.sampling.likelihood import token_span
from btp.sampling.prompts import render_prompt
from btp.tasks.types import Task

Item = tuple[str, str, tuple[int, int]]  # prompt text, completion text, scored character span


def program_item(task: Task, program: str, tokenizer) -> Item:
    """The (prompt, completion, span) under which ``btp score`` scores a stored program."""
    from btp.training import completion_text

    completion = completion_text(program)
    body = program.strip()
    start = completion.find(body)
    return render_prompt(task, tokenizer), completion, (start, start + len(body))


@dataclass
class HFScorer:
    model: object
    tokenizer: object
    name: str
    batch_size: int = 4

    def score(self, items: Sequence[Item]) -> list[tuple[float, int]]:
        """(sum of log-probs, token count) of each item's span; (0.0, 0) for an empty span."""
        tok = self.tokenizer
        enc = [(tok(p, add_special_tokens=False)["input_ids"], tok(c, add_special_tokens=False)["input_ids"], span)
               for p, c, span in items]
        order = sorted(range(len(enc)), key=lambda i: len(enc[i][0]) + len(enc[i][1]))
        out: list[tuple[float, int]] = [(0.0, 0)] * len(enc)
        for b in range(0, len(order), self.batch_size):
            idx = order[b : b + self.batch_size]
            for i, lps in zip(idx, self.token_logprobs([enc[i][0] for i in idx], [enc[i][1] for i in idx])):
                c_ids, (s, e) = enc[i][1], enc[i][2]
                i0, i1 = token_span(tok, c_ids, s, e)
                out[i] = (float(sum(lps[i0:i1])), i1 - i0)
        return out

    @torch.no_grad()
    def token_logprobs(self, prompts: Sequence[list[int]], completions: Sequence[list[int]]) -> list[list[float]]:
        """Per-token log-probs of each completion after its prompt (left-padded batch, one forward)."""
        rows = [p + c for p, c in zip(prompts, completions)]
        width = max(len(r) for r in rows)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, width - len(r):] = torch.tensor(r)
            mask[i, width - len(r):] = 1
        pos = (mask.cumsum(1) - 1).clamp(min=0)
        keep = max(len(c) for c in completions) + 1
        dev = self.model.device
        logits = self.model(input_ids=ids.to(dev), attention_mask=mask.to(dev), position_ids=pos.to(dev),
                            logits_to_keep=keep).logits.float()
        out = []
        for i, c in enumerate(completions):
            if not c:
                out.append([])
                continue
            lp = torch.log_softmax(logits[i, keep - len(c) - 1 : keep - 1], dim=-1)
            out.append(lp.gather(1, torch.tensor(c, device=lp.device)[:, None])[:, 0].tolist())
        return out
