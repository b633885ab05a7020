"""In-memory sampling structures over a buffer's priorities, updated in place as records change.

Each structure is built from a priority vector (P2Value per record, or the pass rate for pass_only)
and offers ``set(positions, priorities)``, ``append(priorities)``, ``draw(n, rng)`` (with replacement:
positions and their single-draw probabilities) and ``probs()`` (the whole distribution).

- ``TreeStructure``: proportional / uniform / pass_only, a 16-ary sum tree (O(k log n) updates).
- ``RankStructure``: rank-based; records kept sorted by priority in a ``BlockOrder`` (blocks of <= 32,
  so moving k records rewrites O(k) blocks: O(k * 32 + n / 16) work, no re-sort); the rank weights
  (1/r)^a over sorted positions are a fixed prefix sum.
- ``TaskStructure`` (``taskstructure.py``): any mode, per task first: a task uniformly among those with
  weight, then a record within it, through a sum tree over the records grouped by task; updates re-weigh
  the touched records (all records of the touched tasks for rank) plus an O(#tasks) prefix sum.
"""

from __future__ import annotations

import numpy as np

from btp.replay.blockorder import BlockOrder
from btp.replay.samplers import rank_weights
from btp.replay.taskstructure import TaskStructure, elementwise_weights
from btp.replay.weightindex import WeightIndex

__all__ = ["RankStructure", "TaskStructure", "TreeStructure", "elementwise_weights"]


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
