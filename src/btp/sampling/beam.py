"""Beam search with continuous batching across tasks, for any Hugging Face causal LM.

Why not ``model.generate``: batched ``generate`` keeps computing every row until the batch's longest
row finishes, and pads every prompt to the longest one. On a CPU a decode step costs about the same
for 1 or 24 rows (it is bound by reading the weights), so the lost rows are lost throughput. Here a
fixed number of task *slots* (``slots * k`` rows) decode together; when a task's beams are done its
slot is refilled with the next task at once (its prompt prefilled alone, without padding), and the
KV cache keeps a length per row (``SlotCache``).

The search itself is the one ``transformers`` implements (5.x ``_beam_search`` with
``early_stopping=True``, ``length_penalty=1.0``), step for step per task: the 2k best continuations
over all beams, candidates ending in EOS among the first k enter the finished list with score
``sum_logprob / generated_length``, the best k unfinished ones continue; a task is done when k
hypotheses are finished or ``max_new_tokens`` is reached. Stop rules force EOS (log-prob 0).
"""

from __future__ import annotations

import inspect
from collections import deque
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import torch

from btp.sampling.slotcache import SlotCache
from btp.sampling.stops import StopRule

NEG = -1.0e9


def cache_keyword(model) -> str:
    """The forward() keyword for the KV cache: ``cache`` in recent transformers (which deprecate
    ``past_key_values``), ``past_key_values`` before. An unknown keyword would be silently
    swallowed by ``**kwargs`` and the cache left empty, so it is looked up, not assumed."""
    params = inspect.signature(model.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


@dataclass(frozen=True)
class Hypothesis:
    tokens: list[int]  # generated ids, final EOS excluded
    logprobs: list[float]  # log-prob of each of those tokens under the model
    score: float  # sum of log-probs / generated length (EOS included): the beam search's ranking


class BeamSearch:
    """Run beam search for many prompts; yields ``(prompt_index, hypotheses best first)`` as tasks finish."""

    def __init__(self, model, *, eos_id: int, k: int, max_new_tokens: int, slots: int,
                 piece: Callable[[int], str]):
        self.model, self.eos, self.k, self.M, self.S = model, int(eos_id), k, max_new_tokens, slots
        self.piece = piece
        self.device = model.device
        self.steps = 0  # decode forward passes run (for statistics)
        self.cache_kw = cache_keyword(model)

    @torch.no_grad()
    def run(self, prompts: Sequence[Sequence[int]], rules: Sequence[StopRule]) -> Iterator[tuple[int, list[Hypothesis]]]:
        if not prompts:
            return
        cfg = self.model.config
        S, k, M, dev = self.S, self.k, self.M, self.device
        R = S * k
        head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        cap = max(len(p) for p in prompts) + M + 1
        self.cache = SlotCache(cfg.num_hidden_layers, R, cfg.num_key_value_heads, head_dim, cap,
                               self.model.dtype, dev)
        self.slot_task = [-1] * S
        self.slot_rule: list[StopRule | None] = [None] * S
        self.plen = torch.zeros(S, dtype=torch.long, device=dev)
        self.gen = torch.zeros(S, dtype=torch.long, device=dev)
        self.run_scores = torch.zeros(S, k, device=dev)
        self.run_tok = torch.zeros(R, M, dtype=torch.long, device=dev)
        self.run_lp = torch.zeros(R, M, device=dev)
        self.fin_tok = torch.zeros(S, k, M, dtype=torch.long, device=dev)
        self.fin_lp = torch.zeros(S, k, M, device=dev)
        self.fin_len = torch.zeros(S, k, dtype=torch.long, device=dev)
        self.fin_score = torch.full((S, k), NEG, device=dev)
        self.fin_done = torch.zeros(S, k, dtype=torch.bool, device=dev)
        self.last_tok = torch.zeros(R, dtype=torch.long, device=dev)
        self.texts = [""] * R
        queue = deque(range(len(prompts)))
        while queue or any(t >= 0 for t in self.slot_task):
            for s in range(S):
                while self.slot_task[s] < 0 and queue:
                    t = queue.popleft()
                    done = self._start(s, t, prompts[t], rules[t])
                    if done:
                        yield t, self._finish(s)
            live = [s for s in range(S) if self.slot_task[s] >= 0]
            if not live:
                continue
            logits = self._decode()
            rows = torch.tensor([s * k + j for s in live for j in range(k)], device=dev)
            for s in self._select(live, torch.log_softmax(logits[rows], dim=-1), reorder=True):
                t = self.slot_task[s]
                yield t, self._finish(s)

    # --- one task's start and end --------------------------------------------------------------
    def _start(self, s: int, t: int, prompt: Sequence[int], rule: StopRule) -> bool:
        from transformers import DynamicCache

        k = self.k
        ids = torch.tensor([list(prompt)], dtype=torch.long, device=self.device)
        c = DynamicCache(config=self.model.config)
        out = self.model(input_ids=ids, use_cache=True, logits_to_keep=1, **{self.cache_kw: c})
        rows = torch.arange(s * k, s * k + k, device=self.device)
        self.cache.write_prefill(rows, [(layer.keys, layer.values) for layer in c.layers])
        self.slot_task[s], self.slot_rule[s] = t, rule
        self.plen[s], self.gen[s] = ids.shape[1], 0
        self.run_scores[s] = NEG
        self.run_scores[s, 0] = 0.0  # only the first beam expands at step 0, as in transformers
        self.fin_score[s], self.fin_done[s], self.fin_len[s] = NEG, False, 0
        for r in rows.tolist():
            self.texts[r] = ""
        logp = torch.log_softmax(out.logits[0, -1].float(), dim=-1)
        return bool(self._select([s], logp[None].expand(k, -1).clone(), reorder=False))

    def _finish(self, s: int) -> list[Hypothesis]:
        hyps = []
        for j in range(self.k):
            if not bool(self.fin_done[s, j]):
                continue
            n = int(self.fin_len[s, j])
            toks = self.fin_tok[s, j, :n].tolist()
            lps = self.fin_lp[s, j, :n].tolist()
            if toks and toks[-1] == self.eos:
                toks, lps = toks[:-1], lps[:-1]
            hyps.append(Hypothesis(toks, lps, float(self.fin_score[s, j])))
        self.slot_task[s] = -1
        self.slot_rule[s] = None
        return hyps

    # --- the decode step and the beam update ------------------------------------------------------
    def _decode(self) -> torch.Tensor:
        k = self.k
        live = torch.tensor([t >= 0 for t in self.slot_task], device=self.device)
        pos = torch.where(live, self.plen + self.gen - 1, torch.zeros_like(self.plen))
        pos = pos.repeat_interleave(k)
        self.cache.pos = pos
        self.cache.width = int(pos.max()) + 1
        out = self.model(input_ids=self.last_tok[:, None], position_ids=pos[:, None],
                         attention_mask=self.cache.mask(), use_cache=True, **{self.cache_kw: self.cache})
        self.steps += 1
        return out.logits[:, -1].float()

    def _rows_with_stops(self, sl: list[int], logp: torch.Tensor):
        """(slot tensor, row tensor, row list) of slots ``sl``; rows whose stop rule fired get EOS forced in ``logp``."""
        k = self.k
        slt = torch.tensor(sl, device=self.device)
        rows = (slt[:, None] * k + torch.arange(k, device=self.device)).reshape(-1)
        rows_l = rows.tolist()
        forced = [i for i, r in enumerate(rows_l) if self.slot_rule[r // k].done(self.texts[r])]
        if forced:
            logp[forced] = float("-inf")
            logp[forced, self.eos] = 0.0
        return slt, rows, rows_l

    def _select(self, sl: list[int], logp: torch.Tensor, *, reorder: bool) -> list[int]:
        """One beam-search step for slots ``sl`` given their rows' next-token log-probs; returns slots done."""
        k, M, dev = self.k, self.M, self.device
        n, V = len(sl), logp.shape[-1]
        slt, rows, rows_l = self._rows_with_stops(sl, logp)
        logp = logp.view(n, k, V)
        acc = (logp + self.run_scores[slt][:, :, None]).reshape(n, k * V)
        top_s, top_i = torch.topk(acc, 2 * k)
        parent, tok = top_i // V, top_i % V
        ar_n = torch.arange(n, device=dev)[:, None]
        tok_lp = logp[ar_n, parent, tok]
        g = self.gen[slt]
        hits = (tok == self.eos) | (g + 1 >= M)[:, None]
        prow = slt[:, None] * k + parent  # global row of each candidate's parent
        cand_tok = self.run_tok[prow]
        cand_lp = self.run_lp[prow]
        ar_c = torch.arange(2 * k, device=dev)[None, :]
        cand_tok[ar_n, ar_c, g[:, None]] = tok
        cand_lp[ar_n, ar_c, g[:, None]] = tok_lp

        # finished hypotheses (transformers' _update_finished_beams, length_penalty = 1)
        fin_done = self.fin_done[slt]
        norm = top_s / (g + 1).to(top_s.dtype)[:, None]
        norm = norm + fin_done.all(1, keepdim=True).to(norm.dtype) * NEG
        just = hits.clone()
        just[:, k:] = False
        norm = norm + (~just) * NEG
        merged = torch.cat((self.fin_score[slt], norm), 1)
        mi = torch.topk(merged, k)[1]
        self.fin_score[slt] = merged.gather(1, mi)
        m_tok = torch.cat((self.fin_tok[slt], cand_tok), 1)
        m_lp = torch.cat((self.fin_lp[slt], cand_lp), 1)
        self.fin_tok[slt] = m_tok[ar_n, mi]
        self.fin_lp[slt] = m_lp[ar_n, mi]
        self.fin_len[slt] = torch.cat((self.fin_len[slt], (g + 1)[:, None].expand(n, 2 * k)), 1).gather(1, mi)
        self.fin_done[slt] = torch.cat((fin_done, just), 1).gather(1, mi)

        # running beams for the next step (transformers' _get_running_beams_for_next_iteration)
        rs = top_s + hits.to(top_s.dtype) * NEG
        ni = torch.topk(rs, k)[1]
        self.run_scores[slt] = rs.gather(1, ni)
        src = prow.gather(1, ni).reshape(-1)
        self.run_tok[rows] = cand_tok[ar_n, ni].reshape(n * k, M)
        self.run_lp[rows] = cand_lp[ar_n, ni].reshape(n * k, M)
        new_tok = tok.gather(1, ni).reshape(-1)
        self.last_tok[rows] = new_tok
        src_l = src.tolist()
        self.texts_update(rows_l, src_l, new_tok.tolist())
        if reorder:
            moved = [i for i, (d, s_) in enumerate(zip(rows_l, src_l)) if d != s_]
            if moved:
                self.cache.copy_rows(rows[moved], src[moved], self.cache.width)
        self.gen[slt] = g + 1
        done = self.fin_done[slt].all(1) | (g + 1 >= M)
        return [s for s, d in zip(sl, done.tolist()) if d]

    def texts_update(self, rows: list[int], src: list[int], toks: list[int]) -> None:
        old = {r: self.texts[r] for r in set(src)}
        for r, s_, t in zip(rows, src, toks):
            self.texts[r] = old[s_] + self.piece(t)
