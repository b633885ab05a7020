"""SQLite schema of the buffer file, versioned with ``PRAGMA user_version`` and upgraded in place.

``MIGRATIONS[v]`` takes a file from version v to v + 1 inside one transaction, so an interrupted
upgrade leaves the old version intact. A file newer than this code is refused, never touched.
"""

from __future__ import annotations

import sqlite3

from btp.errors import BtpError

MIGRATIONS: list[str] = [
    # 0 -> 1: tasks, records of the paper's Eq. 5 with provenance, re-scored log-probs, done markers
    """
    CREATE TABLE tasks (
        task_id TEXT PRIMARY KEY, prompt TEXT NOT NULL, entry_point TEXT, setup TEXT NOT NULL,
        tests_json TEXT NOT NULL, reference TEXT, source TEXT NOT NULL, meta_json TEXT NOT NULL,
        updated_at REAL NOT NULL);
    CREATE TABLE records (
        id INTEGER PRIMARY KEY, task_id TEXT NOT NULL, program TEXT NOT NULL, program_hash TEXT NOT NULL,
        pass_rate REAL NOT NULL, passed INTEGER NOT NULL, total INTEGER NOT NULL, outcomes_json TEXT NOT NULL,
        model TEXT NOT NULL, round INTEGER NOT NULL, logprob_sum REAL, n_tokens INTEGER, logprob_mean REAL,
        count INTEGER NOT NULL, beam_rank INTEGER NOT NULL, extra_json TEXT NOT NULL, created_at REAL NOT NULL);
    CREATE INDEX records_task ON records(task_id);
    CREATE TABLE scores (
        record_id INTEGER NOT NULL REFERENCES records(id), model TEXT NOT NULL, logprob_sum REAL NOT NULL,
        n_tokens INTEGER NOT NULL, updated_at REAL NOT NULL, PRIMARY KEY (record_id, model));
    CREATE TABLE done (
        task_id TEXT NOT NULL, round INTEGER NOT NULL, model TEXT NOT NULL, at REAL NOT NULL,
        PRIMARY KEY (task_id, round, model));
    """,
    # 1 -> 2: draw counters (for "tasks never drawn") and a round/model index for resume queries
    """
    CREATE TABLE draws (record_id INTEGER PRIMARY KEY, count INTEGER NOT NULL);
    CREATE INDEX records_round_model ON records(round, model);
    """,
]
VERSION = len(MIGRATIONS)


def connect(path: str, *, readonly: bool = False) -> sqlite3.Connection:
    """Open (or create) a buffer file in WAL mode and bring its schema to ``VERSION``."""
    try:
        if readonly:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, timeout=30)
        else:
            conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        conn.execute("PRAGMA busy_timeout = 30000")
        if not readonly:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as e:
        raise BtpError(f"{path}: not a btp buffer file ({e})") from None
    if version > VERSION:
        conn.close()
        raise BtpError(f"{path}: buffer schema version {version} is newer than this btp ({VERSION}); upgrade btp")
    if version < VERSION and readonly:
        conn.close()
        raise BtpError(f"{path}: buffer schema version {version} needs an upgrade; open it once for writing")
    if version == 0 and not readonly:
        # a non-empty file without our version is someone else's database: refuse to touch it
        tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
        if tables:
            conn.close()
            raise BtpError(f"{path}: an SQLite file that is not a btp buffer")
    migrate(conn, version, VERSION)
    return conn


def migrate(conn: sqlite3.Connection, start: int, end: int) -> None:
    """Apply migrations start -> end, each in its own transaction with the version bump."""
    for v in range(start, end):
        conn.execute("BEGIN IMMEDIATE")
        if conn.execute("PRAGMA user_version").fetchone()[0] > v:  # another process got there first
            conn.execute("COMMIT")
            continue
        try:
            for stmt in MIGRATIONS[v].split(";"):
                if stmt.strip():
                    conn.execute(stmt)
            conn.execute(f"PRAGMA user_version = {v + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
