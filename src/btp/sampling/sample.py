"""Temperature / nucleus sampling on the same continuously batched engine as beam search.

Each task gets ``k`` independent rows that share its prefilled prompt. Every step, each live row
draws its next token from ``softmax(log p / temperature)`` restricted to the smallest set of
tokens whose probability reaches ``top_p``; a row is finished when it draws EOS, its stop rule
fires, or it reaches ``max_new_tokens``, and the task's slot is refilled when all ``k`` are.
The log-prob recorded for each token is the model's own (temperature 1, no truncation), so a
sampled program's P is comparable with a beam's. Draws come from one seeded ``torch.Generator``:
the same prompts, slots and seed give the same programs.
"""

from __future__ import annotations

import torch

from btp.sampling.beam import BeamSearch


class Sampling(BeamSearch):
    """``k`` sampled programs per prompt; same interface as ``BeamSearch``."""

    def __init__(self, model, *, temperature: float = 0.8, top_p: float = 0.95, seed: int = 0, **kw):
        super().__init__(model, **kw)
        if temperature <= 0 or not 0 < top_p <= 1:
            raise ValueError(f"sampling needs temperature > 0 and 0 < top_p <= 1, got {temperature}, {top_p}")
        self.temperature, self.top_p = temperature, top_p
        self.rng = torch.Generator(device=self.device)
        self.rng.manual_seed(seed)

    def _draw(self, logp: torch.Tensor) -> torch.Tensor:
        probs = torch.softmax(logp / self.temperature, dim=-1)
        if self.top_p < 1.0:
            sorted_p, order = torch.sort(probs, descending=True, dim=-1)
            outside = sorted_p.cumsum(-1) - sorted_p >= self.top_p  # mass before this token already enough
            sorted_p = sorted_p.masked_fill(outside, 0.0)
            probs = torch.zeros_like(probs).scatter(-1, order, sorted_p)
        return torch.multinomial(probs, 1, generator=self.rng)[:, 0]

    def _select(self, sl: list[int], logp: torch.Tensor, *, reorder: bool) -> list[int]:
        k, M, dev = self.k, self.M, self.device
        slt, rows, rows_l = self._rows_with_stops(sl, logp)
        was_done = self.fin_done[slt].reshape(-1)
        tok = self._draw(logp)
        tok = torch.where(was_done, torch.full_like(tok, self.eos), tok)
        tok_lp = logp.gather(1, tok[:, None])[:, 0]
        g = self.gen[slt].repeat_interleave(k)
        live = ~was_done
        lr = rows[live]
        self.run_tok[lr, g[live]] = tok[live]
        self.run_lp[lr, g[live]] = tok_lp[live]
        ends = live & ((tok == self.eos) | (g + 1 >= M))
        if bool(ends.any()):
            er = rows[ends]
            s_idx, j_idx = er // k, er % k
            self.fin_tok[s_idx, j_idx] = self.run_tok[er]
            self.fin_lp[s_idx, j_idx] = self.run_lp[er]
            length = g[ends] + 1
            self.fin_len[s_idx, j_idx] = length
            upto = torch.arange(M, device=dev)[None, :] < length[:, None]  # rows keep stale tails
            self.fin_score[s_idx, j_idx] = (self.run_lp[er] * upto).sum(-1) / length.to(self.run_lp.dtype)
            self.fin_done[s_idx, j_idx] = True
        self.last_tok[rows] = tok
        self.texts_update(rows_l, rows_l, tok.tolist())
        self.gen[slt] = self.gen[slt] + 1
        done = self.fin_done[slt].all(1) | (self.gen[slt] >= M)
        return [s for s, d in zip(sl, done.tolist()) if d]
