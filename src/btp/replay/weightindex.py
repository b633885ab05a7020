"""A 16-ary sum tree in numpy: batched O(log n) proportional draws and O(k log n) vectorized updates.

Each level is an array of node sums viewed as rows of ``FANOUT`` children. A draw walks all queries
down together; at each level it gathers the m x 16 child rows, takes their prefix sums with one small
matrix product, and picks the child whose interval holds the query. Levels stop at the first with <= 4096
nodes, searched at once through its cached prefix sum: 10^6 items need the leaves and two node levels, so a
batch costs ~35 numpy calls instead of the ~180 of a binary tree (call overhead dominates at batch
sizes of a few hundred). Weights are float64 and must be >= 0.
"""

from __future__ import annotations

import numpy as np

from btp.errors import BtpError

FANOUT = 16
_TRI = np.triu(np.ones((FANOUT, FANOUT)))  # x @ _TRI = prefix sums of each row
_ONES = np.ones(FANOUT)
TOP = 4096  # levels up to this size are searched at once through one cached cumulative sum


class WeightIndex:
    def __init__(self, weights: np.ndarray | None = None, capacity: int = FANOUT):
        w = np.zeros(0) if weights is None else np.asarray(weights, dtype=np.float64)
        self.size = w.size
        cap = FANOUT
        while cap < max(capacity, w.size):
            cap *= FANOUT
        leaves = np.zeros(cap)
        leaves[: w.size] = w
        self.levels = [leaves]  # levels[0] = leaves; the last one is the first with <= TOP nodes
        while self.levels[-1].size > TOP:
            self.levels.append(self.levels[-1].reshape(-1, FANOUT).sum(axis=1))
        # the top level is searched with one searchsorted over its cached cumsum (no levels above it)
        self.top = len(self.levels) - 1
        self._cum: np.ndarray | None = None

    @property
    def weights(self) -> np.ndarray:
        return self.levels[0][: self.size]

    @property
    def total(self) -> float:
        return float(self._top_cum()[-1])

    def _top_cum(self) -> np.ndarray:
        if self._cum is None:
            self._cum = np.cumsum(self.levels[self.top])
        return self._cum

    def update(self, positions: np.ndarray, weights: np.ndarray) -> None:
        """Set the weights at ``positions`` (< size; duplicates take the last value) and fix the sums."""
        node = np.asarray(positions, dtype=np.int64)
        if node.size == 0:
            return
        self.levels[0][node] = weights
        for below, level in zip(self.levels, self.levels[1:]):
            node = node // FANOUT
            level[node] = below.reshape(-1, FANOUT)[node] @ _ONES
        self._cum = None

    def append(self, weights: np.ndarray) -> None:
        """Add items at the end; grows by a factor of FANOUT (one O(n) rebuild) when full."""
        weights = np.asarray(weights, dtype=np.float64)
        new = self.size + weights.size
        if new > self.levels[0].size:
            self.__init__(np.concatenate((self.weights, weights)), capacity=new)
            return
        pos = np.arange(self.size, new)
        self.size = new
        self.update(pos, weights)

    def draw(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """n positions drawn with replacement, each with probability weight/total; (positions, probs)."""
        total = self._top_cum()[-1]
        if n and not total > 0:
            raise BtpError("nothing to sample: every item has zero weight")
        node = self.locate(rng.random(n) * total)
        bad = self.levels[0][node] <= 0  # only from float round-off at an edge
        if bad.any():
            nz = np.flatnonzero(self.weights > 0)
            node[bad] = nz[np.clip(np.searchsorted(nz, node[bad]), 0, nz.size - 1)]
        return node, self.levels[0][node] / total

    def locate(self, u: np.ndarray) -> np.ndarray:
        """For each u in [0, total): the position whose cumulative-weight interval holds it."""
        cum = self._top_cum()
        u = np.array(u, dtype=np.float64)
        rows = np.arange(u.size)
        node = np.minimum(np.searchsorted(cum, u, side="right"), cum.size - 1)
        u -= cum[node] - self.levels[self.top][node]
        for depth in range(self.top - 1, -1, -1):
            children = self.levels[depth].reshape(-1, FANOUT)[node]
            pref = children @ _TRI
            # children whose prefix is <= u (a bool @ float product: ~5x faster than count_nonzero on rows)
            j = ((pref <= u[:, None]) @ _ONES).astype(np.int64)
            np.minimum(j, FANOUT - 1, out=j)
            if depth:  # the leaf level needs no remainder
                u -= pref[rows, j] - children[rows, j]
            node = node * FANOUT + j
        return node
