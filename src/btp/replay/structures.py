"""In-memory sampling structures over a buffer's priorities, updated in place as records change.

Each structure is built from a priority vector (P2Value per record, or the pass rate for pass_only)
and offers ``set(positions, priorities)``, ``append(priorities)``, ``draw(n, rng)`` (with replacement:
positions and their single-draw probabilities) and ``probs()`` (the whole distribution).

- ``TreeStructure``: proportional / uniform / pass_only, a 16-ary sum tree (O(k log n) updates).
- ``RankStructure``: rank-based; records kept sorted by priority in a ``BlockOrder`` (blocks of <= 32,
  so moving k records rewrites O(k) blocks: O(k * 32 + n / 16) work, no re-sort); the rank weights
  (1/r)^a over sorted positions are a fixed prefix sum.
- ``TaskStructure``: any mode, per task first: a task uniformly among those with weight, then a record
  within it. Rebuilt (vectorized, O(n log n)) at the first draw after a change.
"""

from __future__ import annotations

import numpy as np

from btp.replay.blockorder import BlockOrder
from btp.replay.samplers import rank_weights
from btp.replay.weightindex import WeightIndex


def elementwise_weights(mode: str, prio: np.ndarray, exponent: float) -> np.ndarray:
    """Weights of the modes whose weight depends on the record's own priority only."""
    prio = np.asarray(prio, dtype=np.float64)
    if mode == "proportional":
        return prio**exponent if exponent != 1.0 else prio.copy()
    if mode == "uniform":
        return np.ones(prio.size)
    if mode == "pass_only":
        return (prio >= 1.0).astype(np.float64)
    raise ValueError(mode)


class TreeStructure:
    def __init__(self, mode: str, prio: np.ndarray, exponent: float):
        self.mode, self.exponent = mode, exponent
        self.tree = WeightIndex(elementwise_weights(mode, prio, exponent))

    def set(self, positions: np.ndarray, prio: np.ndarray) -> None:
        self.tree.update(positions, elementwise_weights(self.mode, prio, self.exponent))

    def append(self, prio: np.ndarray) -> None:
        self.tree.append(elementwise_weights(self.mode, prio, self.exponent))

    def draw(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return self.tree.draw(n, rng)

    def probs(self) -> np.ndarray:
        w = self.tree.weights
        return w / w.sum()


class RankStructure:
    """Rank-based draws: a position j in sorted order with probability (1/(j+1))^a / sum (a fixed
    prefix sum), then a record uniformly within j's tie group, whose single-draw probability is then
    the group's mean weight (the documented tie rule). The sorted order is a ``BlockOrder``."""

    def __init__(self, prio: np.ndarray, exponent: float, **block_sizes):
        self.exponent = exponent
        self.prio = np.asarray(prio, dtype=np.float64).copy()
        self.order = BlockOrder(-self.prio, **block_sizes)  # ascending keys: rank 1 (highest priority) first
        self.cum0 = np.concatenate(([0.0], np.cumsum(np.arange(1, self.prio.size + 1, dtype=np.float64) ** -exponent)))

    def set(self, positions: np.ndarray, prio: np.ndarray) -> None:
        positions = np.asarray(positions, dtype=np.int64)
        prio = np.broadcast_to(np.asarray(prio, dtype=np.float64), positions.shape)
        uniq, last = np.unique(positions[::-1], return_index=True)  # repeated positions: last value wins
        new = prio[::-1][last]
        self.order.move(uniq, -new)
        self.prio[uniq] = new

    def append(self, prio: np.ndarray) -> None:
        prio = np.asarray(prio, dtype=np.float64)
        n = self.prio.size
        self.order.append(-prio)
        self.prio = np.concatenate((self.prio, prio))
        tail = np.cumsum(np.arange(n + 1, n + prio.size + 1, dtype=np.float64) ** -self.exponent)
        self.cum0 = np.concatenate((self.cum0, self.cum0[-1] + tail))

    def draw(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        total = self.cum0[-1]
        size = self.prio.size
        j = np.minimum(np.searchsorted(self.cum0[1:], rng.random(n) * total, side="right"), size - 1)
        v, item = self.order.select(j)
        lo, hi = self.order.count_less(v), self.order.count_le(v)
        tied = np.flatnonzero(hi - lo > 1)
        if tied.size:
            pick = lo[tied] + (rng.random(tied.size) * (hi[tied] - lo[tied])).astype(np.int64)
            item[tied] = self.order.select(np.minimum(pick, hi[tied] - 1))[1]
        return item, (self.cum0[hi] - self.cum0[lo]) / (hi - lo) / total

    def probs(self) -> np.ndarray:
        w = rank_weights(self.prio, self.exponent)
        return w / w.sum()


class TaskStructure:
    def __init__(self, mode: str, prio: np.ndarray, tasks: np.ndarray, exponent: float):
        self.mode, self.exponent = mode, exponent
        self.prio = np.asarray(prio, dtype=np.float64).copy()
        self.tasks = np.asarray(tasks, dtype=np.int64).copy()
        self._built = False

    def set(self, positions: np.ndarray, prio: np.ndarray) -> None:
        self.prio[positions] = prio
        self._built = False

    def append(self, prio: np.ndarray, tasks: np.ndarray | None = None) -> None:
        self.prio = np.concatenate((self.prio, prio))
        self.tasks = np.concatenate((self.tasks, tasks))
        self._built = False

    def _build(self) -> None:
        n = self.prio.size
        if self.mode == "rank":
            order = np.lexsort((-self.prio, self.tasks))
        else:
            order = np.argsort(self.tasks, kind="stable")
        t, p = self.tasks[order], self.prio[order]
        seg = np.flatnonzero(np.concatenate(([True], t[1:] != t[:-1]))) if n else np.zeros(0, dtype=np.int64)
        ends = np.concatenate((seg[1:], [n]))
        seg_of = np.repeat(np.arange(seg.size), ends - seg)
        if self.mode == "rank":
            r = np.arange(n) - seg[seg_of] + 1.0
            prefix = np.concatenate(([0.0], np.cumsum(r**-self.exponent)))
            g = np.flatnonzero(np.concatenate(([True], (t[1:] != t[:-1]) | (p[1:] != p[:-1])))) if n else seg
            gend = np.concatenate((g[1:], [n]))
            w = np.repeat((prefix[gend] - prefix[g]) / (gend - g), gend - g)
        else:
            w = elementwise_weights(self.mode, p, self.exponent)
        c0 = np.concatenate(([0.0], np.cumsum(w)))
        wt = c0[ends] - c0[seg]
        self.order, self.w, self.c0, self.seg, self.ends, self.seg_of = order, w, c0, seg, ends, seg_of
        self.active = np.flatnonzero(wt > 0)
        self.wt = wt
        self._built = True

    def draw(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        if not self._built:
            self._build()
        if n and self.active.size == 0:
            from btp.errors import BtpError

            raise BtpError("nothing to sample: every item has zero weight")
        t = self.active[rng.integers(0, self.active.size, n)]
        u = self.c0[self.seg[t]] + rng.random(n) * self.wt[t]
        j = np.clip(np.searchsorted(self.c0[1:], u, side="right"), self.seg[t], self.ends[t] - 1)
        for k in np.flatnonzero(self.w[j] <= 0):  # float round-off at a segment edge only
            inside = np.flatnonzero(self.w[self.seg[t[k]] : self.ends[t[k]]] > 0) + self.seg[t[k]]
            j[k] = inside[np.clip(np.searchsorted(inside, j[k]), 0, inside.size - 1)]
        return self.order[j], self.w[j] / self.wt[t] / self.active.size

    def probs(self) -> np.ndarray:
        if not self._built:
            self._build()
        out = np.zeros(self.prio.size)
        wt = self.wt[self.seg_of]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[self.order] = np.where(wt > 0, self.w / np.where(wt > 0, wt, 1.0), 0.0) / max(self.active.size, 1)
        return out
