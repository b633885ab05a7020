"""btp task JSONL: one ``Task.to_json()`` object per line. Also registered as dataset ``jsonl``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable

from btp.errors import BtpError
from btp.tasks.registry import no_split, register
from btp.tasks.rows import read_rows, row_errors
from btp.tasks.spec import DatasetSpec
from btp.tasks.types import Task


def read_tasks_jsonl(path: str | Path) -> list[Task]:
    """Read a btp task JSONL file; a malformed line raises BtpError naming file and line."""
    tasks = []
    for row in read_rows(path):
        with row_errors(row.where):
            try:
                tasks.append(Task.from_json(row.obj))
            except BtpError as e:
                raise BtpError(f"{row.where}: {e}") from None
    return tasks


def write_tasks_jsonl(tasks: Iterable[Task], path: str | Path) -> int:
    """Write tasks one per line (atomically: a temp file renamed into place); return the count.

    Test values must be JSON-serializable; a task that is not raises BtpError and the
    destination file is left as it was.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    n = 0
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            for task in tasks:
                try:
                    line = json.dumps(task.to_json(), ensure_ascii=False)
                except (TypeError, ValueError) as e:
                    raise BtpError(f"task {task.task_id!r} is not JSON-serializable: {e}") from None
                f.write(line + "\n")
                n += 1
        os.replace(tmp, path)
    except OSError as e:
        raise BtpError(f"cannot write {path}: {e}") from None
    finally:
        if tmp.exists():
            tmp.unlink()
    return n


@register("jsonl")
def load_jsonl(spec: DatasetSpec) -> list[Task]:
    """Tasks from a btp task JSONL file (``--path`` required; no named splits)."""
    if spec.path is None:
        raise BtpError("dataset 'jsonl' needs a path to a btp task JSONL file")
    no_split(spec, "btp task JSONL has no named splits (use --fold)")
    return read_tasks_jsonl(spec.path)
