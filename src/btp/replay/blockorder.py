"""Items kept sorted by key in small blocks: order statistics with sublinear, vectorized updates.

The rank sampler needs three things of the items sorted by key: the item at sorted position j
(``select``), how many keys are < v and <= v (``count_less`` / ``count_le``, for tie groups), and
moving k items to new keys without re-sorting everything. A single sorted array makes the last one
O(n) (every insert shifts the tail). Here the sorted sequence is cut into blocks of at most ``cap``
items, each a row of a 2-d array (padded with +inf), chained in key order through ``rows`` (a list of
physical row numbers). Moving k items rewrites only the <= 2k rows they leave or enter, all at once
with numpy (O(k * cap) work) plus one O(n / fill) pass to shift the per-block prefix counts. A row
that overflows is split into rows of ``fill`` chained right after it (O(n / fill) re-chaining); an
emptied row stays chained (its old max still separates its neighbours) until a quarter of the rows are
empty, then they are unlinked and reused. Queries search the per-block prefix counts / maxima, then
compare within one row.

Keys are float64, finite. Items are 0..size-1 (an item's identity, e.g. a record position).
"""

from __future__ import annotations

import numpy as np

CAP = 32  # items per row at most (measured: 16-32 is fastest at 10^6 items, 256 moved per update)
FILL = 16  # items per row after a build or a split


def _row_count(mask: np.ndarray) -> np.ndarray:
    """True entries per row (a bool @ float product: several times faster than sum(axis=1) on bools)."""
    return (mask @ np.ones(mask.shape[1])).astype(np.int64)


class BlockOrder:
    def __init__(self, keys: np.ndarray, cap: int = CAP, fill: int = FILL):
        keys = np.asarray(keys, dtype=np.float64)
        self.cap, self.fill = cap, fill
        n = keys.size
        nb = max(1, -(-n // fill))
        order = np.argsort(keys, kind="stable")
        self.K = np.full((nb, cap), np.inf)
        self.V = np.full((nb, cap), -1, dtype=np.int64)
        for arr, vals, pad in ((self.K, keys[order], np.inf), (self.V, order, -1)):
            flat = np.full(nb * fill, pad, dtype=arr.dtype)  # row b holds sorted positions b*fill .. b*fill+fill-1
            flat[:n] = vals
            arr[:, :fill] = flat.reshape(nb, fill)
        self.cnt = np.full(nb, fill, dtype=np.int64)
        self.cnt[-1] = n - (nb - 1) * fill
        self.rmax = self._row_max(np.arange(nb))  # each physical row's max key (-inf when empty)
        self.row_of = np.empty(n, dtype=np.int64)
        self.row_of[order] = np.arange(n) // fill
        self.mark = np.zeros(n + 1, dtype=bool)  # scratch; the extra last entry is V's padding (-1)
        self.rows = np.arange(nb, dtype=np.int64)
        self.free: list[int] = []
        self._refresh()

    @property
    def size(self) -> int:
        return int(self.row_of.size)

    def _row_max(self, rows: np.ndarray) -> np.ndarray:
        c = self.cnt[rows]
        return np.where(c > 0, self.K[rows, np.maximum(c, 1) - 1], -np.inf)

    def _refresh(self) -> None:
        """Per-block prefix counts and maxima, and each physical row's place in the chain (O(n / fill))."""
        nb = self.rows.size
        c = self.cnt[self.rows]
        self.cum = np.zeros(nb + 1, dtype=np.int64)
        np.cumsum(c, out=self.cum[1:])
        # block separators: a row's max; an empty row takes the max before it (-inf at the start)
        self.bmax = np.maximum.accumulate(self.rmax[self.rows])
        if getattr(self, "lpos", None) is None or self.lpos.size < self.K.shape[0]:
            self.lpos = np.empty(self.K.shape[0], dtype=np.int64)  # only entries of chained rows are read
        self.lpos[self.rows] = np.arange(nb)
        self.n_empty = int(np.count_nonzero(c == 0))

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
        return np.where(inside, self.cum[np.minimum(lb, nb)] + _row_count(within), self.cum[-1])

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
        # a new key goes to the first row whose max is >= it (the last row if none): order is kept
        dest = self.rows[np.minimum(np.searchsorted(self.bmax, keys, side="left"), nb - 1)]
        src = self.row_of[gone]
        touched = np.unique(np.concatenate((src, dest)))
        m = touched.size
        ti = np.searchsorted(touched, dest)
        s = np.lexsort((keys, ti))  # new entries sorted by (row, key)
        ti, nk, nv = ti[s], keys[s], items[s]
        old_c = self.cnt[touched]
        new_c = old_c - np.bincount(np.searchsorted(touched, src), minlength=m) + np.bincount(ti, minlength=m)
        Kt, Vt = self.K[touched], self.V[touched]
        self.mark[gone] = True
        keep = (Vt >= 0) & ~self.mark[Vt]
        self.mark[gone] = False
        below = _row_count(np.where(keep[ti], Kt[ti], np.inf) < nk[:, None])  # kept keys < each new key
        self._merge_rows(touched, Kt, Vt, keep, ti, nk, nv, below, old_c, new_c)

    def _merge_rows(self, touched, Kt, Vt, keep, ti, nk, nv, below, old_c, new_c) -> None:
        """Merge the kept and new entries of the touched rows, all rows at once.

        A kept entry's new slot = kept entries before it + new entries placed before it (those whose
        ``below`` is <= its kept index); a new entry's slot = ``below`` + new entries before it in its row.
        Removed and padding entries are written to a spare column that is then dropped. A row left with
        more than ``cap`` items is split (``_split``); an emptied row stays chained.
        """
        m, cap = touched.size, self.cap
        width = max(cap, int(new_c.max()))
        kidx = np.cumsum(keep, axis=1) - keep  # kept index of each entry in its row
        ahead = np.bincount(ti * (cap + 1) + below, minlength=m * (cap + 1)).reshape(m, cap + 1).cumsum(axis=1)
        slot = np.where(keep, kidx + np.take_along_axis(ahead, kidx, axis=1), width)
        first = np.searchsorted(ti, np.arange(m))  # each row's first new entry (ti is sorted)
        nslot = below + np.arange(ti.size) - first[ti]
        Kn, Vn = np.full((m, width + 1), np.inf), np.full((m, width + 1), -1, dtype=np.int64)
        r = np.arange(m)[:, None]
        Kn[r, slot], Vn[r, slot] = Kt, Vt
        Kn[ti, nslot], Vn[ti, nslot] = nk, nv
        fits = new_c <= cap
        rows_in, c_in = touched[fits], new_c[fits]
        self.K[rows_in], self.V[rows_in], self.cnt[rows_in] = Kn[fits, :cap], Vn[fits, :cap], c_in
        self.rmax[rows_in] = np.where(c_in > 0, Kn[fits, np.maximum(c_in, 1) - 1], -np.inf)
        self.row_of[nv] = touched[ti]
        if not fits.all():
            self._split(touched[~fits], Kn[~fits], Vn[~fits], new_c[~fits])
            return
        lp = self.lpos[touched]
        # an emptied row stays in the chain with its old max as separator (it can take keys again);
        # the chain is compacted once a quarter of its rows are empty
        self.bmax[lp] = np.where(new_c > 0, self.rmax[touched], self.bmax[lp])
        delta = np.zeros(self.cum.size, dtype=np.int64)
        delta[lp + 1] = new_c - old_c
        self.cum += np.cumsum(delta)
        self.n_empty += int(np.count_nonzero(new_c == 0)) - int(np.count_nonzero(old_c == 0))
        if self.n_empty * 4 > self.rows.size:
            self._compact()

    def _split(self, rows: np.ndarray, Kn: np.ndarray, Vn: np.ndarray, c: np.ndarray) -> None:
        """Cut each overflowing merged row into rows of ``fill`` items, chained right after it."""
        fill = self.fill
        pieces = -(-c // fill)
        new_rows = self._alloc(int((pieces - 1).sum()))
        at, k = [], 0
        for i, row in enumerate(rows.tolist()):  # few rows per update
            phys = np.concatenate(([row], new_rows[k : k + pieces[i] - 1]))
            k += pieces[i] - 1
            for q, pr in enumerate(phys.tolist()):
                lo, hi = q * fill, min((q + 1) * fill, c[i])
                self.K[pr], self.V[pr] = np.inf, -1
                self.K[pr, : hi - lo], self.V[pr, : hi - lo] = Kn[i, lo:hi], Vn[i, lo:hi]
                self.cnt[pr], self.rmax[pr] = hi - lo, Kn[i, hi - 1]
                self.row_of[Vn[i, lo:hi]] = pr
            at.append(np.full(pieces[i] - 1, self.lpos[row] + 1))
        self.rows = np.insert(self.rows, np.concatenate(at), new_rows)
        self._refresh()
        if self.n_empty * 4 > self.rows.size:
            self._compact()

    def _compact(self) -> None:
        """Unlink empty rows (all but one if every row is empty) and free them."""
        live = self.cnt[self.rows] > 0
        if not live.any():
            live[0] = True
        self.free.extend(self.rows[~live].tolist())
        self.rows = self.rows[live]
        self._refresh()

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
        self.rmax = np.concatenate((self.rmax, np.full(grow, -np.inf)))
        self.free.extend(range(R + need, R + grow))
        return np.array(take + list(range(R, R + need)), dtype=np.int64)
