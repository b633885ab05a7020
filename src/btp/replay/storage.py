"""SQLite storage of tasks and records (one file per run). Every write is one transaction."""

from __future__ import annotations

import json
import math
import sqlite3
import time
from typing import Iterable, Iterator, Sequence

import numpy as np

from btp.errors import BtpError
from btp.replay.schema import connect
from btp.replay.types import Record, program_hash
from btp.tasks.types import Task

_REC_COLS = (
    "id, task_id, program, pass_rate, passed, total, outcomes_json, model, round, logprob_sum, "
    "n_tokens, count, beam_rank, extra_json"
)


def _row_to_record(r: tuple) -> Record:
    return Record(
        id=r[0], task_id=r[1], program=r[2], pass_rate=r[3], passed=r[4], total=r[5],
        outcomes=tuple(json.loads(r[6])), model=r[7], round=r[8], logprob_sum=r[9], n_tokens=r[10],
        count=r[11], beam_rank=r[12], extra=json.loads(r[13]),
    )


def check_record(rec: Record) -> None:
    """Raise BtpError naming the first thing wrong with a record."""
    where = f"record for task {rec.task_id!r}"
    if not isinstance(rec.program, str):
        raise BtpError(f"{where}: program must be a string")
    if not (isinstance(rec.pass_rate, (int, float)) and 0.0 <= rec.pass_rate <= 1.0):
        raise BtpError(f"{where}: pass_rate must be a number in [0, 1], got {rec.pass_rate!r}")
    if rec.logprob_sum is not None and not (math.isfinite(rec.logprob_sum) and rec.logprob_sum <= 1e-9):
        raise BtpError(f"{where}: logprob_sum must be a finite number <= 0 or None, got {rec.logprob_sum!r}")
    if rec.n_tokens is not None and (not isinstance(rec.n_tokens, int) or rec.n_tokens < 0):
        raise BtpError(f"{where}: n_tokens must be an int >= 0 or None, got {rec.n_tokens!r}")
    if rec.count < 1 or rec.beam_rank < 0:
        raise BtpError(f"{where}: count must be >= 1 and beam_rank >= 0")


class Storage:
    def __init__(self, path: str, *, readonly: bool = False):
        self.path = str(path)
        self.conn: sqlite3.Connection = connect(self.path, readonly=readonly)

    def close(self) -> None:
        self.conn.close()

    def data_version(self) -> int:
        """Changes when another connection commits (PRAGMA data_version)."""
        return self.conn.execute("PRAGMA data_version").fetchone()[0]

    def write(self):
        return _Transaction(self.conn)

    def snapshot(self):
        """A read transaction: every query inside sees the same committed state."""
        return _Transaction(self.conn, "BEGIN")

    # --- tasks -------------------------------------------------------------------------------
    def add_tasks(self, tasks: Iterable[Task]) -> int:
        rows = []
        now = time.time()
        for t in tasks:
            if not isinstance(t, Task):
                raise BtpError(f"add_tasks expects Task objects, got {type(t).__name__}")
            rows.append((t.task_id, t.prompt, t.entry_point, t.setup, t.tests_json(), t.reference, t.source,
                         json.dumps(t.meta, sort_keys=True), now))
        with self.write():
            self.conn.executemany("INSERT OR REPLACE INTO tasks VALUES (?,?,?,?,?,?,?,?,?)", rows)
        return len(rows)

    def get_task(self, task_id: str) -> Task:
        r = self.conn.execute(
            "SELECT task_id, prompt, entry_point, setup, tests_json, reference, source, meta_json FROM tasks "
            "WHERE task_id = ?", (task_id,)).fetchone()
        if r is None:
            raise BtpError(f"task {task_id!r} is not in buffer {self.path}")
        return Task.from_json({"task_id": r[0], "prompt": r[1], "entry_point": r[2], "setup": r[3],
                               "tests": json.loads(r[4]), "reference": r[5], "source": r[6],
                               "meta": json.loads(r[7])})

    def task_ids(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT task_id FROM tasks ORDER BY task_id")]

    # --- records -----------------------------------------------------------------------------
    def add(self, records: Sequence[Record], done: tuple[str, int, str] | None = None) -> list[int]:
        for rec in records:
            check_record(rec)
        known = self._known_tasks({r.task_id for r in records} | ({done[0]} if done else set()))
        now = time.time()
        ids: list[int] = []
        with self.write():
            for rec in records:
                if rec.task_id not in known:
                    raise BtpError(f"record for unknown task {rec.task_id!r}: add the task with add_tasks first")
                cur = self.conn.execute(
                    "INSERT INTO records (task_id, program, program_hash, pass_rate, passed, total, outcomes_json,"
                    " model, round, logprob_sum, n_tokens, logprob_mean, count, beam_rank, extra_json, created_at)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (rec.task_id, rec.program, program_hash(rec.program), float(rec.pass_rate), rec.passed,
                     rec.total, json.dumps([str(getattr(o, "value", o)) for o in rec.outcomes]), rec.model,
                     rec.round, rec.logprob_sum, rec.n_tokens, rec.logprob_mean, rec.count, rec.beam_rank,
                     json.dumps(rec.extra, sort_keys=True), now))
                ids.append(cur.lastrowid)
            if done is not None:
                if done[0] not in known:
                    raise BtpError(f"done marker for unknown task {done[0]!r}")
                self.conn.execute("INSERT OR REPLACE INTO done VALUES (?,?,?,?)",
                                  (done[0], int(done[1]), str(done[2]), now))
        for rec, i in zip(records, ids):
            rec.id = i
        return ids

    def _known_tasks(self, wanted: set[str]) -> set[str]:
        found: set[str] = set()
        items = list(wanted)
        for k in range(0, len(items), 500):
            chunk = items[k : k + 500]
            q = f"SELECT task_id FROM tasks WHERE task_id IN ({','.join('?' * len(chunk))})"
            found.update(r[0] for r in self.conn.execute(q, chunk))
        return found

    def sampled(self, round: int, model: str) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT task_id FROM done WHERE round = ? AND model = ?",
                                                (round, model))}

    def records(self, round: int | None = None, model: str | None = None) -> Iterator[Record]:
        where, args = [], []
        if round is not None:
            where.append("round = ?")
            args.append(round)
        if model is not None:
            where.append("model = ?")
            args.append(model)
        q = f"SELECT {_REC_COLS} FROM records" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
        for r in self.conn.execute(q, args):
            yield _row_to_record(r)

    def get(self, ids: Sequence[int]) -> list[Record]:
        """Records by id, in the order given (repeats allowed)."""
        uniq = sorted(set(int(i) for i in ids))
        by_id: dict[int, Record] = {}
        for k in range(0, len(uniq), 900):
            chunk = uniq[k : k + 900]
            q = f"SELECT {_REC_COLS} FROM records WHERE id IN ({','.join('?' * len(chunk))})"
            for r in self.conn.execute(q, chunk):
                by_id[r[0]] = _row_to_record(r)
        missing = [i for i in uniq if i not in by_id]
        if missing:
            raise BtpError(f"no record with id {missing[0]} in {self.path}")
        return [by_id[int(i)] for i in ids]

    def count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM records").fetchone()[0]

    def columns(self, after_id: int = 0) -> dict[str, np.ndarray | list]:
        """The columns the priority index needs, for records with id > after_id, by id."""
        rows = self.conn.execute(
            "SELECT id, task_id, pass_rate, logprob_sum, n_tokens, beam_rank FROM records WHERE id > ? ORDER BY id",
            (after_id,)).fetchall()
        cols = list(zip(*rows)) if rows else [()] * 6
        return {
            "id": np.array(cols[0], dtype=np.int64),
            "task_id": list(cols[1]),
            "pass_rate": np.array(cols[2], dtype=np.float64),
            "logprob_sum": np.array([np.nan if v is None else v for v in cols[3]], dtype=np.float64),
            "n_tokens": np.array([np.nan if v is None else v for v in cols[4]], dtype=np.float64),
            "beam_rank": np.array(cols[5], dtype=np.int64),
        }

    # --- re-scored likelihoods ---------------------------------------------------------------
    def set_p(self, ids: Sequence[int], logprob_sum: Sequence[float], n_tokens: Sequence[int], model: str) -> None:
        if not (len(ids) == len(logprob_sum) == len(n_tokens)):
            raise BtpError("set_p: ids, logprob_sum and n_tokens must have the same length")
        if not model:
            raise BtpError("set_p: model name must not be empty")
        rows = []
        now = time.time()
        for i, lp, nt in zip(ids, logprob_sum, n_tokens):
            lp, nt = float(lp), int(nt)
            if not (math.isfinite(lp) and lp <= 1e-9) or nt < 0:
                raise BtpError(f"set_p: record {int(i)}: logprob_sum must be finite <= 0 and n_tokens >= 0")
            rows.append((int(i), model, lp, nt, now))
        with self.write():
            missing = {r[0] for r in rows} - self.get_existing([r[0] for r in rows])
            if missing:
                raise BtpError(f"set_p: no record with id {min(missing)} in {self.path}")
            self.conn.executemany("INSERT OR REPLACE INTO scores VALUES (?,?,?,?,?)", rows)

    def get_existing(self, ids: Sequence[int]) -> set[int]:
        found: set[int] = set()
        uniq = sorted(set(ids))
        for k in range(0, len(uniq), 900):
            chunk = uniq[k : k + 900]
            found.update(r[0] for r in self.conn.execute(
                f"SELECT id FROM records WHERE id IN ({','.join('?' * len(chunk))})", chunk))
        return found

    def scores(self, model: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rows = self.conn.execute("SELECT record_id, logprob_sum, n_tokens FROM scores WHERE model = ? "
                                 "ORDER BY record_id", (model,)).fetchall()
        cols = list(zip(*rows)) if rows else [(), (), ()]
        return (np.array(cols[0], dtype=np.int64), np.array(cols[1], dtype=np.float64),
                np.array(cols[2], dtype=np.float64))

    # --- draw counters -----------------------------------------------------------------------
    def add_draws(self, ids: np.ndarray, counts: np.ndarray) -> None:
        with self.write():
            self.conn.executemany(
                "INSERT INTO draws VALUES (?, ?) ON CONFLICT(record_id) DO UPDATE SET count = count + excluded.count",
                [(int(i), int(c)) for i, c in zip(ids, counts)])


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception (so bad input stores nothing)."""

    def __init__(self, conn: sqlite3.Connection, begin: str = "BEGIN IMMEDIATE"):
        self.conn, self.begin = conn, begin

    def __enter__(self):
        self.conn.execute(self.begin)
        return self.conn

    def __exit__(self, exc_type, exc, tb):
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
        return False
