"""Items kept sorted by key in small blocks: order statistics with sublinear, vectorized updates.

The rank sampler needs three things of the items sorted by key: the item at sorted position j
(``select``), how many keys are < v and <= v (``count_less`` / ``count_le``, for tie groups), and
moving k items to new keys without re-sorting everything. A single sorted array makes the last one
O(n) (every insert shifts the tail). Here the sorted sequence is cut into blocks of at most ``cap``
items, each a row of a 2-d array (padded with +inf), chained in key order through ``rows`` (a list of
physical row numbers). Moving k items rewrites only the <= 2k rows they leave or enter, all at once
with numpy (O(k * cap) work) plus O(n / cap) to refresh the per-block counts and maxima; a row that
overflows is split, an emptied row is unlinked and reused. Queries search the per-block prefix
counts / maxima, then compare within one row.

Keys are float64, finite. Items are 0..size-1 (an item's identity, e.g. a record position).
"""

from __future__ import annotations

import numpy as np

CAP = 128  # items per row at most
FILL = 64  # items per row after a build or a split


class BlockOrder:
    def __init__(self, keys: np.ndarray, cap: int = CAP, fill: int = FILL):
        keys = np.asarray(keys, dtype=np.float64)
        self.cap, self.fill = cap, fill
        n = keys.size
        nb = max(1, -(-n // fill))
        order = np.argsort(keys, kind="stable")
        slot = np.arange(n)
        self.K = np.full((nb, cap), np.inf)
        self.V = np.full((nb, cap), -1, dtype=np.int64)
        self.K[slot // fill, slot % fill] = keys[order]
        self.V[slot // fill, slot % fill] = order
        self.cnt = np.bincount(slot // fill, minlength=nb).astype(np.int64)
        self.row_of = np.empty(n, dtype=np.int64)
        self.row_of[order] = slot // fill
        self.mark = np.zeros(n + 1, dtype=bool)  # scratch; the extra last entry is V's padding (-1)
        self.rows = np.arange(nb, dtype=np.int64)
        self.free: list[int] = []
        self._refresh()

    @property
    def size(self) -> int:
        return int(self.row_of.size)

    def _refresh(self) -> None:
        c = self.cnt[self.rows]
        self.cum = np.concatenate(([0], np.cumsum(c)))
        self.bmax = self.K[self.rows, c - 1] if c.size else np.zeros(0)

    # --- queries (vectorized over v / j) -----------------------------------------------------------
    def select(self, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(key, item) at sorted positions j (0-based, < size)."""
        lb = np.searchsorted(self.cum, j, side="right") - 1
        r, off = self.rows[lb], j - self.cum[lb]
        return self.K[r, off], self.V[r, off]

    def count_less(self, v: np.ndarray) -> np.ndarray:
        """Number of keys < v, for each v."""
        return self._count(v, "left")

    def count_le(self, v: np.ndarray) -> np.ndarray:
        """Number of keys <= v, for each v."""
        return self._count(v, "right")

    def _count(self, v: np.ndarray, side: str) -> np.ndarray:
        v = np.asarray(v, dtype=np.float64)
        nb = self.rows.size
        lb = np.searchsorted(self.bmax, v, side=side)  # blocks before lb lie wholly on the near side of v
        inside = lb < nb
        row = self.K[self.rows[np.minimum(lb, nb - 1)]]
        within = (row < v[:, None]) if side == "left" else (row <= v[:, None])
        return np.where(inside, self.cum[np.minimum(lb, nb)] + within.sum(axis=1), self.cum[-1])

    def keys(self) -> np.ndarray:
        """Each item's key (O(n), for checks and full distributions)."""
        out = np.empty(self.size)
        live = self.V[self.rows]
        ok = live >= 0
        out[live[ok]] = self.K[self.rows][ok]
        return out

    # --- updates -------------------------------------------------------------------------------
    def move(self, items: np.ndarray, keys: np.ndarray) -> None:
        """Give existing ``items`` (distinct) new ``keys``."""
        items = np.asarray(items, dtype=np.int64)
        self._rewrite(items, items, np.asarray(keys, dtype=np.float64))

    def append(self, keys: np.ndarray) -> None:
        """Add items size..size+len(keys)-1 with these keys."""
        keys = np.asarray(keys, dtype=np.float64)
        n, m = self.size, keys.size
        self.row_of = np.concatenate((self.row_of, np.zeros(m, dtype=np.int64)))
        self.mark = np.zeros(n + m + 1, dtype=bool)
        self._rewrite(np.zeros(0, dtype=np.int64), np.arange(n, n + m), keys)

    def _rewrite(self, gone: np.ndarray, items: np.ndarray, keys: np.ndarray) -> None:
        """Remove ``gone`` items and insert ``items`` with ``keys``, rewriting only the rows involved."""
        if items.size == 0 and gone.size == 0:
            return
        nb = self.rows.size
        dest = self.rows[np.minimum(np.searchsorted(self.bmax, keys, side="left"), nb - 1)]
        touched = np.unique(np.concatenate((self.row_of[gone], dest)))
        m = touched.size
        Kt, Vt = self.K[touched], self.V[touched]
        self.mark[gone] = True
        keep = (Vt >= 0) & ~self.mark[Vt]
        self.mark[gone] = False
        # kept entries, row-major: sorted by (row, key) already
        kr, kc = np.nonzero(keep)
        kk, kv = Kt[kr, kc], Vt[kr, kc]
        kept_n = np.bincount(kr, minlength=m)
        kept_start = np.cumsum(kept_n) - kept_n
        # new entries sorted by (row, key); insertion index = row start + kept keys below it in that row
        ti = np.searchsorted(touched, dest)
        s = np.lexsort((keys, ti))
        ti, nk, nv = ti[s], keys[s], items[s]
        below = (np.where(keep[ti], Kt[ti], np.inf) < nk[:, None]).sum(axis=1)
        at = kept_start[ti] + below
        mk, mv, mr = np.insert(kk, at, nk), np.insert(kv, at, nv), np.insert(kr, at, ti)
        c = np.bincount(mr, minlength=m)
        slot = np.arange(mr.size) - (np.cumsum(c) - c)[mr]
        self._place(touched, c, mr, slot, mk, mv)

    def _place(self, touched, c, mr, slot, mk, mv) -> None:
        """Write merged rows back: a row over ``cap`` is split into rows of ``fill``, an empty one unlinked."""
        over = c > self.cap
        per = np.where(over, self.fill, self.cap)  # items per piece in each touched row
        pieces = np.where(c == 0, 0, np.where(over, -(-c // self.fill), 1))
        extra = pieces - 1
        n_new = int(extra[extra > 0].sum())
        new_rows = self._alloc(n_new)
        extra_start = np.cumsum(np.maximum(extra, 0)) - np.maximum(extra, 0)
        piece = slot // per[mr]
        phys = touched[mr]
        if n_new:
            split = piece > 0
            phys[split] = new_rows[extra_start[mr[split]] + piece[split] - 1]
        written = np.concatenate((touched, new_rows))
        self.K[written] = np.inf
        self.V[written] = -1
        self.K[phys, slot % per[mr]] = mk
        self.V[phys, slot % per[mr]] = mv
        self.cnt[written] = np.bincount(phys, minlength=self.K.shape[0])[written]
        self.row_of[mv] = phys
        if over.any() or (c == 0).any():
            self._relink(touched, pieces, extra_start, new_rows)
        self._refresh()

    def _relink(self, touched, pieces, extra_start, new_rows) -> None:
        """Rebuild the chain of rows: split rows are followed by their new pieces, empty rows dropped."""
        npieces = np.ones(self.K.shape[0], dtype=np.int64)
        npieces[touched] = pieces
        tindex = np.full(self.K.shape[0], -1, dtype=np.int64)
        tindex[touched] = np.arange(touched.size)
        lp = npieces[self.rows]
        if lp.sum() == 0:  # everything gone: keep one empty row
            lp[0] = 1
        chain = np.repeat(self.rows, lp)
        k = np.arange(chain.size) - np.repeat(np.cumsum(lp) - lp, lp)
        ext = k > 0
        chain[ext] = new_rows[extra_start[tindex[chain[ext]]] + k[ext] - 1]
        dropped = self.rows[lp == 0]
        self.free.extend(dropped.tolist())
        self.rows = chain

    def _alloc(self, n: int) -> np.ndarray:
        """n physical rows: reused free ones first, else the row arrays grow (doubling)."""
        take = self.free[-n:] if n else []
        del self.free[len(self.free) - len(take):]
        need = n - len(take)
        if need <= 0:
            return np.array(take, dtype=np.int64)
        R = self.K.shape[0]
        grow = max(need, R)
        self.K = np.concatenate((self.K, np.full((grow, self.cap), np.inf)))
        self.V = np.concatenate((self.V, np.full((grow, self.cap), -1, dtype=np.int64)))
        self.cnt = np.concatenate((self.cnt, np.zeros(grow, dtype=np.int64)))
        self.free.extend(range(R + need, R + grow))
        return np.array(take + list(range(R, R + need)), dtype=np.int64)
