"""A run's ``metrics.jsonl``: one JSON object a line, appended; a kill can tear only the last line."""

from __future__ import annotations

import json
from pathlib import Path

from btp.errors import BtpError


def append(path: Path, row: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


def repair(path: Path) -> None:
    """Drop a torn last line (a writer killed mid-append) so the next append starts a fresh line."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])


def read(path: Path) -> list[dict]:
    """Every row; a torn last line is skipped, a bad line elsewhere is a BtpError naming it."""
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    rows = []
    for n, line in enumerate(lines, 1):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if n < len(lines):
                raise BtpError(f"{path}:{n}: not JSON") from None
    return rows
