"""Export a buffer to JSONL or Parquet and import it back without loss.

One JSON object (or Parquet row) per record, with its task and re-scored log-probs inlined::

    {"kind": "record", "id": .., "task_id": .., "program": .., "pass_rate": .., ..., "scores": {model: [lp, nt]}}
    {"kind": "task", "task": {Task JSON}}
    {"kind": "done", "task_id": .., "round": .., "model": ..}

Parquet stores the same objects as rows of (kind, json) so nothing depends on a column schema.
Import keeps record ids when the target is empty (so draws, scores and ids stay comparable) and
otherwise appends with new ids. The whole import is one transaction.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Iterator

from btp.errors import BtpError
from btp.replay.storage import _REC_COLS, Storage, _row_to_record, check_record
from btp.replay.types import Record, program_hash
from btp.tasks.types import Task


def _objects(storage: Storage) -> Iterator[dict]:
    conn = storage.conn
    for tid in storage.task_ids():
        yield {"kind": "task", "task": storage.get_task(tid).to_json()}
    scores: dict[int, dict] = {}
    for rid, model, lp, nt in conn.execute("SELECT record_id, model, logprob_sum, n_tokens FROM scores"):
        scores.setdefault(rid, {})[model] = [lp, nt]
    created = dict(conn.execute("SELECT id, created_at FROM records"))
    for row in conn.execute(f"SELECT {_REC_COLS} FROM records ORDER BY id"):
        r = _row_to_record(row)
        yield {"kind": "record", "id": r.id, "task_id": r.task_id, "program": r.program, "pass_rate": r.pass_rate,
               "passed": r.passed, "total": r.total, "outcomes": list(r.outcomes), "model": r.model,
               "round": r.round, "logprob_sum": r.logprob_sum, "n_tokens": r.n_tokens, "count": r.count,
               "beam_rank": r.beam_rank, "extra": r.extra, "created_at": created[r.id],
               "scores": scores.get(r.id, {})}
    for tid, rnd, model in conn.execute("SELECT task_id, round, model FROM done ORDER BY task_id, round, model"):
        yield {"kind": "done", "task_id": tid, "round": rnd, "model": model}


def export(storage: Storage, out: str | Path) -> int:
    """Write the buffer to ``out`` (.jsonl or .parquet); returns the number of objects written."""
    out = Path(out)
    objs = list(_objects(storage))
    if out.suffix == ".jsonl":
        with out.open("w") as f:
            for o in objs:
                f.write(json.dumps(o, sort_keys=True) + "\n")
    elif out.suffix == ".parquet":
        pa, pq = _arrow()
        table = pa.table({"kind": [o["kind"] for o in objs], "json": [json.dumps(o, sort_keys=True) for o in objs]})
        pq.write_table(table, out)
    else:
        raise BtpError(f"{out}: export format must be .jsonl or .parquet")
    return len(objs)


def _arrow():
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise BtpError("Parquet needs pyarrow: pip install pyarrow (or use .jsonl)") from None
    return pa, pq


def _read(src: Path) -> list[dict]:
    if not src.exists():
        raise BtpError(f"{src}: no such file")
    if src.suffix == ".jsonl":
        objs = []
        for n, line in enumerate(src.read_text().splitlines(), start=1):
            if line.strip():
                try:
                    objs.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise BtpError(f"{src}:{n}: not JSON ({e.msg})") from None
        return objs
    if src.suffix == ".parquet":
        _, pq = _arrow()
        return [json.loads(s) for s in pq.read_table(src, columns=["json"]).column("json").to_pylist()]
    raise BtpError(f"{src}: import format must be .jsonl or .parquet")


def import_(storage: Storage, src: str | Path) -> int:
    """Load an export into the buffer in one transaction; returns the number of records added."""
    objs = _read(Path(src))
    tasks = [Task.from_json(o["task"]) for o in objs if o.get("kind") == "task"]
    recs = [o for o in objs if o.get("kind") == "record"]
    for o in recs:
        try:
            check_record(_record(o))
        except (KeyError, TypeError) as e:
            raise BtpError(f"{src}: record {o.get('id')!r} is missing or has a bad field ({e})") from None
    keep_ids = storage.count() == 0
    conn = storage.conn
    now = time.time()
    with storage.write():
        conn.executemany("INSERT OR REPLACE INTO tasks VALUES (?,?,?,?,?,?,?,?,?)",
                         [(t.task_id, t.prompt, t.entry_point, t.setup, t.tests_json(), t.reference, t.source,
                           json.dumps(t.meta, sort_keys=True), now) for t in tasks])
        known = {r[0] for r in conn.execute("SELECT task_id FROM tasks")}
        for o in recs:
            r = _record(o)
            if r.task_id not in known:
                raise BtpError(f"{src}: record {o.get('id')!r} refers to task {r.task_id!r} that is not in the file")
            cur = conn.execute(
                "INSERT INTO records (id, task_id, program, program_hash, pass_rate, passed, total, outcomes_json,"
                " model, round, logprob_sum, n_tokens, logprob_mean, count, beam_rank, extra_json, created_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (o["id"] if keep_ids else None, r.task_id, r.program, program_hash(r.program), r.pass_rate, r.passed,
                 r.total, json.dumps(list(r.outcomes)), r.model, r.round, r.logprob_sum, r.n_tokens, r.logprob_mean,
                 r.count, r.beam_rank, json.dumps(r.extra, sort_keys=True), o.get("created_at", now)))
            for model, (lp, nt) in (o.get("scores") or {}).items():
                conn.execute("INSERT OR REPLACE INTO scores VALUES (?,?,?,?,?)", (cur.lastrowid, model, lp, nt, now))
        conn.executemany("INSERT OR REPLACE INTO done VALUES (?,?,?,?)",
                         [(o["task_id"], o["round"], o["model"], now) for o in objs if o.get("kind") == "done"])
    return len(recs)


def _record(o: dict) -> Record:
    return Record(task_id=o["task_id"], program=o["program"], pass_rate=o["pass_rate"], passed=o["passed"],
                  total=o["total"], outcomes=tuple(o["outcomes"]), model=o["model"], round=o["round"],
                  logprob_sum=o["logprob_sum"], n_tokens=o["n_tokens"], count=o["count"], beam_rank=o["beam_rank"],
                  extra=o.get("extra") or {})
