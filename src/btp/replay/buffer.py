"""The replay buffer: SQLite storage plus in-memory sampling structures kept in step with it.

The structures are built from the file at the first ``sample`` for a given configuration and then
updated in place by ``add`` and ``set_p``. When another process commits to the file, the next sample
reloads them (one O(n) pass).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import numpy as np

from btp.errors import BtpError
from btp.replay.priority import PriorityConfig
from btp.replay.rows import RowTable
from btp.replay.samplers import is_weights
from btp.replay.storage import Storage
from btp.replay.structures import RankStructure, TaskStructure, TreeStructure
from btp.replay.types import Record
from btp.tasks.types import Task

FLUSH_DRAWS = 200_000  # pending draw counts written to the file after this many draws (and on close)


@dataclass
class Batch:
    """Drawn records with their ids, single-draw probabilities and importance-sampling weights."""

    records: list[Record]
    ids: np.ndarray
    probs: np.ndarray
    weights: np.ndarray


def _struct_key(cfg: PriorityConfig) -> tuple:
    return (cfg.mode, cfg.alpha, cfg.exponent, cfg.p_source, cfg.p_model, cfg.per_task)


class Buffer:
    def __init__(self, path, *, readonly: bool = False):
        self.storage = Storage(str(path), readonly=readonly)
        self.readonly = readonly
        self._rows: RowTable | None = None
        self._structs: dict[tuple, object] = {}
        self._version = None
        self._pending: dict[int, int] = {}
        self._pending_n = 0

    # --- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> "Buffer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.storage.conn is not None:
            self.flush_draws()
            self.storage.close()
            self.storage.conn = None

    def __len__(self) -> int:
        return self.storage.count()

    # --- writing -----------------------------------------------------------------------------
    def add_tasks(self, tasks: Iterable[Task]) -> int:
        return self.storage.add_tasks(tasks)

    def get_task(self, task_id: str) -> Task:
        return self.storage.get_task(task_id)

    def add(self, records: Sequence[Record], *, done: tuple[str, int, str] | None = None) -> list[int]:
        """Store records (and the optional done marker) in one transaction; returns their ids."""
        self._refresh()
        ids = self.storage.add(records, done=done)
        if self._rows is not None and ids:
            cols = {
                "id": np.array(ids, dtype=np.int64),
                "task_id": [r.task_id for r in records],
                "pass_rate": np.array([r.pass_rate for r in records], dtype=np.float64),
                "logprob_sum": np.array([np.nan if r.logprob_sum is None else r.logprob_sum for r in records]),
                "n_tokens": np.array([np.nan if r.n_tokens is None else r.n_tokens for r in records]),
                "beam_rank": np.array([r.beam_rank for r in records], dtype=np.int64),
            }
            pos = self._rows.append(cols)
            for key, s in self._structs.items():
                prio = self._rows.priorities(self._cfg_of(key), pos)
                if isinstance(s, TaskStructure):
                    s.append(prio, self._rows.task[pos])
                else:
                    s.append(prio)
        self._version = self.storage.data_version()
        return ids

    def set_p(self, ids, logprob_sum, n_tokens, model: str) -> None:
        """Store likelihoods of records re-scored under ``model``; configs with p_model=model use them."""
        self._refresh()
        ids = [int(i) for i in np.asarray(ids).ravel()]
        lp = np.asarray(logprob_sum, dtype=np.float64).ravel()
        nt = np.asarray(n_tokens, dtype=np.float64).ravel()
        self.storage.set_p(ids, lp, nt, model)
        if self._rows is not None and ids:
            # last value wins for repeated ids, as in the file
            uniq, last = np.unique(np.array(ids[::-1]), return_index=True)
            last = len(ids) - 1 - last
            pos = self._rows.positions(uniq)
            self._rows.set_scores(model, pos, lp[last], nt[last])
            for key, s in self._structs.items():
                if key[4] == model:
                    s.set(pos, self._rows.priorities(self._cfg_of(key), pos))
        self._version = self.storage.data_version()

    # --- reading -----------------------------------------------------------------------------
    def snapshot(self):
        """``with buf.snapshot(): ...`` reads one consistent state while another process writes."""
        return self.storage.snapshot()

    def sampled(self, round: int, model: str) -> set[str]:
        return self.storage.sampled(round, model)

    def records(self, round: int | None = None, model: str | None = None) -> Iterator[Record]:
        return self.storage.records(round, model)

    def get(self, ids) -> list[Record]:
        return self.storage.get([int(i) for i in np.asarray(ids).ravel()])

    # --- sampling ----------------------------------------------------------------------------
    def sample(self, n: int, cfg: PriorityConfig, rng: np.random.Generator) -> Batch:
        ids, probs, weights = self.sample_ids(n, cfg, rng)
        return Batch(records=self.storage.get(ids.tolist()), ids=ids, probs=probs, weights=weights)

    def sample_ids(self, n: int, cfg: PriorityConfig, rng: np.random.Generator):
        """Like ``sample`` without reading the records: (ids, probs, IS weights)."""
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise BtpError(f"batch size must be an int >= 0, got {n!r}")
        s = self._struct(cfg)
        if cfg.replace:
            pos, probs = s.draw(int(n), rng)
        else:
            pos, probs = _successive(s, int(n), rng)
        rows = self._rows
        support = len(rows) if cfg.mode != "pass_only" or cfg.per_task else int(np.count_nonzero(rows.pass_rate >= 1))
        weights = is_weights(probs, support, cfg.beta)
        self._count(pos)
        return rows.ids[pos], probs, weights

    def distribution(self, cfg: PriorityConfig) -> tuple[np.ndarray, np.ndarray]:
        """(ids, single-draw probability of each record) under ``cfg``."""
        s = self._struct(cfg)
        return self._rows.ids.copy(), s.probs()

    def priorities(self, cfg: PriorityConfig) -> tuple[np.ndarray, np.ndarray]:
        """(ids, P2Value of each record; the pass rate for pass_only)."""
        self._refresh()
        return self._rows.ids.copy(), self._rows.priorities(cfg)

    def _struct(self, cfg: PriorityConfig):
        self._refresh()
        if len(self._rows) == 0:
            raise BtpError(f"buffer {self.storage.path} is empty: nothing to sample")
        key = _struct_key(cfg)
        s = self._structs.get(key)
        if s is None:
            prio = self._rows.priorities(cfg)
            if cfg.per_task:
                s = TaskStructure(cfg.mode, prio, self._rows.task, cfg.exponent)
            elif cfg.mode == "rank":
                s = RankStructure(prio, cfg.exponent)
            else:
                s = TreeStructure(cfg.mode, prio, cfg.exponent)
            self._structs[key] = s
        return s

    @staticmethod
    def _cfg_of(key: tuple) -> PriorityConfig:
        mode, alpha, exponent, p_source, p_model, per_task = key
        return PriorityConfig(alpha=alpha, mode=mode, exponent=exponent, p_source=p_source,
                              p_model=p_model, per_task=per_task)

    def _refresh(self) -> None:
        """(Re)load the row table when absent or when another connection has committed."""
        version = self.storage.data_version()
        if self._rows is not None and version == self._version:
            return
        rows = RowTable()
        rows.append(self.storage.columns())
        for (model,) in self.storage.conn.execute("SELECT DISTINCT model FROM scores"):
            sid, lp, nt = self.storage.scores(model)
            rows.set_scores(model, rows.positions(sid), lp, nt)
        self._rows, self._structs, self._version = rows, {}, version

    # --- draw counters -----------------------------------------------------------------------
    def _count(self, pos: np.ndarray) -> None:
        if self.readonly or pos.size == 0:
            return
        ids, counts = np.unique(self._rows.ids[pos], return_counts=True)
        for i, c in zip(ids.tolist(), counts.tolist()):
            self._pending[i] = self._pending.get(i, 0) + c
        self._pending_n += int(pos.size)
        if self._pending_n >= FLUSH_DRAWS:
            self.flush_draws()

    def flush_draws(self) -> None:
        """Write pending draw counts to the file (done on close and every FLUSH_DRAWS draws)."""
        if self._pending and not self.readonly:
            self.storage.add_draws(np.array(list(self._pending)), np.array(list(self._pending.values())))
            self._version = self.storage.data_version()
        self._pending, self._pending_n = {}, 0


def _successive(s, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n distinct positions, each next one drawn from the single-draw distribution restricted to the
    positions not drawn yet (successive sampling). Draws with replacement and keeps first occurrences,
    which has exactly that law; after a few rounds falls back to exponential keys on the rest."""
    got: list[int] = []
    seen: set[int] = set()
    prob_of: dict[int, float] = {}
    for _ in range(6):
        if len(got) >= n:
            break
        pos, probs = s.draw(max(2 * (n - len(got)), 16), rng)
        for p, q in zip(pos.tolist(), probs.tolist()):
            if p not in seen:
                seen.add(p)
                got.append(p)
                prob_of[p] = q
    if len(got) < n:
        full = s.probs()
        positive = int(np.count_nonzero(full))
        if n > positive:
            raise BtpError(f"cannot draw {n} records without replacement: only {positive} have non-zero probability")
        rest = full.copy()
        rest[list(seen)] = 0.0
        with np.errstate(divide="ignore"):
            keys = rng.exponential(size=rest.size) / rest
        need = n - len(got)
        part = np.argpartition(keys, need - 1)[:need]
        for p in part[np.argsort(keys[part], kind="stable")].tolist():
            got.append(p)
            prob_of[p] = float(full[p])
    got = got[:n]
    return np.array(got, dtype=np.int64), np.array([prob_of[p] for p in got])
