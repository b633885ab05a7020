"""Per-task sampling: a task uniformly among those with weight, then a record within it by the mode.

Records are grouped by task: ``order`` lists positions sorted by task, task group g holding
``order[start[g]:end[g]]``. Each record's within-task weight lives in a ``WeightIndex`` over that
grouped order, each group's total in ``wt``, and ``before`` holds the groups' prefix sums (O(T) for T
tasks). A draw picks a group g uniformly among the active ones, then u = before[g] + U * wt[g] is
located in the tree: O(log n) per draw. An update re-weighs the records it touches (proportional,
uniform, pass_only) or every record of the tasks it touches (rank: ranks are within the task), re-sums
those tasks and redoes the O(T) prefix sum. Appending records regroups at the next draw (O(n log n)).
"""

from __future__ import annotations

import numpy as np

from btp.errors import BtpError
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


def group_rank_weights(group: np.ndarray, prio: np.ndarray, exponent: float) -> np.ndarray:
    """(1/rank)^a within each group (rank 1 = highest priority), ties as in ``rank_weights``: each of
    the k records tied at ranks r..r+k-1 of its group gets the mean of (1/j)^a over those ranks."""
    n = prio.size
    if n == 0:
        return np.zeros(0)
    s = np.lexsort((-prio, group))
    g, p = group[s], prio[s]
    new_group = np.concatenate(([True], g[1:] != g[:-1]))
    gstart = np.flatnonzero(new_group)
    rank = np.arange(n) - np.repeat(gstart, np.diff(np.append(gstart, n)))  # 0-based within the group
    table = np.arange(1, rank.max() + 2, dtype=np.float64) ** -exponent  # (1/r)^a once per distinct rank
    prefix = np.concatenate(([0.0], np.cumsum(table[rank])))
    tie = np.flatnonzero(new_group | np.concatenate(([True], p[1:] != p[:-1])))
    tend = np.append(tie[1:], n)
    w = np.empty(n)
    w[s] = np.repeat((prefix[tend] - prefix[tie]) / (tend - tie), tend - tie)
    return w


class TaskStructure:
    def __init__(self, mode: str, prio: np.ndarray, tasks: np.ndarray, exponent: float):
        self.mode, self.exponent = mode, exponent
        self.prio = np.asarray(prio, dtype=np.float64).copy()
        self.tasks = np.asarray(tasks, dtype=np.int64).copy()
        self._built = False

    def set(self, positions: np.ndarray, prio: np.ndarray) -> None:
        positions = np.asarray(positions, dtype=np.int64)
        prio = np.broadcast_to(np.asarray(prio, dtype=np.float64), positions.shape)
        uniq, last = np.unique(positions[::-1], return_index=True)  # repeated positions: last value wins
        self.prio[uniq] = prio[::-1][last]
        if not self._built:
            return
        groups = np.unique(self.group_of[self.inv[uniq]])
        if self.mode == "rank":  # a task's total, sum of (1/r)^a over its ranks, does not change
            idx = self._members(groups)
            self.tree.update(idx, self._weights(idx))
            return
        self.tree.update(self.inv[uniq], elementwise_weights(self.mode, self.prio[uniq], self.exponent))
        self._resum(groups)

    def append(self, prio: np.ndarray, tasks: np.ndarray) -> None:
        self.prio = np.concatenate((self.prio, prio))
        self.tasks = np.concatenate((self.tasks, tasks))
        self._built = False

    def _build(self) -> None:
        n = self.prio.size
        self.order = np.argsort(self.tasks, kind="stable")
        t = self.tasks[self.order]
        self.start = np.flatnonzero(np.concatenate(([True], t[1:] != t[:-1]))) if n else np.zeros(0, dtype=np.int64)
        self.end = np.append(self.start[1:], n)
        self.group_of = np.repeat(np.arange(self.start.size), self.end - self.start)  # by grouped index
        self.inv = np.empty(n, dtype=np.int64)
        self.inv[self.order] = np.arange(n)
        self.tree = WeightIndex(self._weights(np.arange(n)))
        self.wt = np.zeros(self.start.size)
        self._resum(np.arange(self.start.size))
        self._built = True

    def _weights(self, idx: np.ndarray) -> np.ndarray:
        """Within-task weights of the records at grouped indices ``idx`` (whole groups for rank)."""
        prio = self.prio[self.order[idx]]
        if self.mode == "rank":
            return group_rank_weights(self.group_of[idx], prio, self.exponent)
        return elementwise_weights(self.mode, prio, self.exponent)

    def _members(self, groups: np.ndarray) -> np.ndarray:
        """Grouped indices of every record of these groups."""
        lens = self.end[groups] - self.start[groups]
        return np.repeat(self.start[groups] - np.cumsum(lens) + lens, lens) + np.arange(lens.sum())

    def _resum(self, groups: np.ndarray) -> None:
        if groups.size:
            starts = np.cumsum(self.end[groups] - self.start[groups])
            sums = np.add.reduceat(self.tree.weights[self._members(groups)], np.append(0, starts[:-1]))
            self.wt[groups] = sums
        self.before = np.cumsum(self.wt) - self.wt
        self.active = np.flatnonzero(self.wt > 0)

    def draw(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        if not self._built:
            self._build()
        if n and self.active.size == 0:
            raise BtpError("nothing to sample: every item has zero weight")
        g = self.active[rng.integers(0, self.active.size, n)]
        j = self.tree.locate(self.before[g] + rng.random(n) * self.wt[g])
        j = np.clip(j, self.start[g], self.end[g] - 1)  # float round-off at a group edge only
        w = self.tree.weights
        for k in np.flatnonzero(w[j] <= 0):
            inside = np.flatnonzero(w[self.start[g[k]] : self.end[g[k]]] > 0) + self.start[g[k]]
            j[k] = inside[np.clip(np.searchsorted(inside, j[k]), 0, inside.size - 1)]
        return self.order[j], w[j] / self.wt[g] / self.active.size

    def probs(self) -> np.ndarray:
        if not self._built:
            self._build()
        out = np.zeros(self.prio.size)
        wt = self.wt[self.group_of]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[self.order] = np.where(wt > 0, self.tree.weights / np.where(wt > 0, wt, 1.0), 0.0)
        return out / max(self.active.size, 1)
