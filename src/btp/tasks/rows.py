"""Reading raw rows from JSONL / JSONL.gz / JSON-array files, with file:line in every error."""

from __future__ import annotations

import gzip
import json
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, NamedTuple

from btp.errors import BtpError


class Row(NamedTuple):
    """One raw record and where it came from (``"file:line"``), for error messages."""

    where: str
    obj: dict


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def read_rows(path: str | Path) -> Iterator[Row]:
    """Yield every JSON object of a ``.jsonl`` / ``.jsonl.gz`` file (or a ``.json`` array).

    Blank lines are skipped. A line that is not a JSON object raises BtpError naming file and line.
    """
    path = Path(path)
    if path.is_dir():
        raise BtpError(f"{path} is a folder; expected a .jsonl, .jsonl.gz or .json file")
    if not path.is_file():
        raise BtpError(f"no such file: {path}")
    try:
        with _open_text(path) as f:
            if path.suffix == ".json":
                yield from _json_array(path, f.read())
                return
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                where = f"{path}:{lineno}"
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    raise BtpError(f"{where}: invalid JSON ({e.msg})") from None
                yield _row(where, obj)
    except (OSError, UnicodeDecodeError, EOFError) as e:
        raise BtpError(f"{path}: cannot read ({e})") from None


def _json_array(path: Path, text: str) -> Iterator[Row]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise BtpError(f"{path}:{e.lineno}: invalid JSON ({e.msg})") from None
    if not isinstance(data, list):
        raise BtpError(f"{path}: expected a JSON array of objects")
    for i, obj in enumerate(data):
        yield _row(f"{path}: item {i}", obj)


def _row(where: str, obj) -> Row:
    if not isinstance(obj, dict):
        raise BtpError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    return Row(where, obj)


@contextmanager
def row_errors(where: str):
    """Turn a converter's KeyError/ValueError/TypeError/SyntaxError into one-line BtpError at ``where``."""
    try:
        yield
    except BtpError:
        raise
    except KeyError as e:
        raise BtpError(f"{where}: missing field {e.args[0]!r}") from None
    except SyntaxError as e:
        raise BtpError(f"{where}: code does not parse ({e.msg}, line {e.lineno})") from None
    except (ValueError, TypeError, AttributeError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise BtpError(f"{where}: {msg}") from None
