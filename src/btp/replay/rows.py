"""The per-record columns the sampler needs, held in numpy arrays (one row per record, by id)."""

from __future__ import annotations

import numpy as np

from btp.replay.priority import PriorityConfig, p2value, p_values


class RowTable:
    """ids (ascending), task codes, pass rates, writer log-probs, beam ranks, re-scored log-probs."""

    def __init__(self) -> None:
        self.ids = np.zeros(0, dtype=np.int64)
        self.task = np.zeros(0, dtype=np.int64)
        self.task_names: list[str] = []
        self._code: dict[str, int] = {}
        self.pass_rate = np.zeros(0)
        self.lp = np.zeros(0)
        self.nt = np.zeros(0)
        self.beam_rank = np.zeros(0, dtype=np.int64)
        self.rescored: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return self.ids.size

    def append(self, cols: dict) -> np.ndarray:
        """Add rows (ids must be larger than any held); returns their positions."""
        start = self.ids.size
        codes = np.array([self._code.setdefault(t, len(self._code)) for t in cols["task_id"]], dtype=np.int64)
        self.task_names = list(self._code)
        self.ids = np.concatenate((self.ids, cols["id"]))
        self.task = np.concatenate((self.task, codes))
        self.pass_rate = np.concatenate((self.pass_rate, cols["pass_rate"]))
        self.lp = np.concatenate((self.lp, cols["logprob_sum"]))
        self.nt = np.concatenate((self.nt, cols["n_tokens"]))
        self.beam_rank = np.concatenate((self.beam_rank, cols["beam_rank"]))
        for model, (lp, nt) in self.rescored.items():
            pad = np.full(self.ids.size - lp.size, np.nan)
            self.rescored[model] = (np.concatenate((lp, pad)), np.concatenate((nt, pad)))
        return np.arange(start, self.ids.size)

    def positions(self, ids) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        pos = np.searchsorted(self.ids, ids)
        pos = np.minimum(pos, max(self.ids.size - 1, 0))
        if ids.size and (self.ids.size == 0 or np.any(self.ids[pos] != ids)):
            raise KeyError("unknown record id")
        return pos

    def set_scores(self, model: str, positions: np.ndarray, lp: np.ndarray, nt: np.ndarray) -> None:
        if model not in self.rescored:
            self.rescored[model] = (np.full(self.ids.size, np.nan), np.full(self.ids.size, np.nan))
        a, b = self.rescored[model]
        a[positions] = lp
        b[positions] = nt

    def priorities(self, cfg: PriorityConfig, positions: np.ndarray | None = None) -> np.ndarray:
        """P2Value per row (the pass rate for pass_only), for all rows or the given positions."""
        sel = slice(None) if positions is None else positions
        if cfg.mode == "pass_only":
            return self.pass_rate[sel].copy()
        lp, nt = self.lp[sel], self.nt[sel]
        if cfg.p_model is not None and cfg.p_model in self.rescored:
            rlp, rnt = (a[sel] for a in self.rescored[cfg.p_model])
            have = ~np.isnan(rlp)
            lp, nt = np.where(have, rlp, lp), np.where(have, rnt, nt)
        p = p_values(lp, nt, self.beam_rank[sel], cfg.p_source)
        return p2value(p, self.pass_rate[sel], cfg.alpha)
