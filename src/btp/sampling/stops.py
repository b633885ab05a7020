"""Stop rules applied during generation, per beam.

Chat models answer with a fenced code block; once a beam has closed its first block there is
nothing left worth generating, so the beam is ended by forcing EOS (a forced token adds log-prob 0).
"""

from __future__ import annotations

import torch
from transformers import LogitsProcessor


class StopAfterFence(LogitsProcessor):
    """Force EOS on rows whose generated text contains a closed code block (two ``` fences)."""

    def __init__(self, tokenizer, prompt_len: int, eos_token_id: int, *, fences: int = 2):
        self.tokenizer = tokenizer
        self.prompt_len = prompt_len
        self.eos = eos_token_id
        self.fences = fences

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        generated = input_ids[:, self.prompt_len :]
        if generated.shape[1] == 0:
            return scores
        texts = self.tokenizer.batch_decode(generated, skip_special_tokens=True)
        done = [t.count("```") >= self.fences for t in texts]
        if any(done):
            rows = torch.tensor(done, device=scores.device)
            forced = torch.full_like(scores[0], float("-inf"))
            forced[self.eos] = 0.0
            scores = torch.where(rows[:, None], forced[None, :], scores)
        return scores
