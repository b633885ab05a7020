"""Summary numbers of a buffer for people inspecting it (``btp buffer stats``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from btp.replay.buffer import Buffer
from btp.replay.priority import PriorityConfig


@dataclass
class Stats:
    records: int
    tasks: int
    by_task: list[tuple[str, int]]
    by_round: list[tuple[int, int]]
    by_model: list[tuple[str, int]]
    missing_logprobs: int
    pass_hist: tuple[np.ndarray, np.ndarray]  # (counts, bin edges)
    priority_hist: tuple[np.ndarray, np.ndarray]
    ess: float  # effective sample size 1 / sum p_i^2 of the sampling distribution
    tasks_never_drawn: list[str]
    draws: int


def effective_sample_size(p: np.ndarray) -> float:
    """Kish's effective sample size of a distribution: 1 / sum p_i^2 (N for uniform, 1 for a point mass)."""
    p = np.asarray(p, dtype=np.float64)
    s = float((p**2).sum())
    return 1.0 / s if s > 0 else 0.0


def compute(buf: Buffer, cfg: PriorityConfig, bins: int = 10) -> Stats:
    conn = buf.storage.conn
    q = lambda sql: conn.execute(sql).fetchall()  # noqa: E731
    n = len(buf)
    by_task = q("SELECT task_id, count(*) FROM records GROUP BY task_id ORDER BY task_id")
    pass_rates = np.array([r[0] for r in q("SELECT pass_rate FROM records")], dtype=float)
    edges = np.linspace(0, 1, bins + 1)
    if n:
        _, prio = buf.priorities(cfg)
        _, probs = buf.distribution(cfg)
        ess = effective_sample_size(probs)
        phist = np.histogram(prio, bins=edges)
    else:
        ess, phist = 0.0, (np.zeros(bins, dtype=int), edges)
    drawn = {r[0] for r in q("SELECT DISTINCT r.task_id FROM draws d JOIN records r ON r.id = d.record_id")}
    drawn |= {buf._rows.task_names[buf._rows.task[buf._rows.positions([i])[0]]] for i in buf._pending} if buf._pending else set()
    all_tasks = sorted({t for t, _ in by_task})
    return Stats(
        records=n, tasks=len(all_tasks), by_task=by_task,
        by_round=q("SELECT round, count(*) FROM records GROUP BY round ORDER BY round"),
        by_model=q("SELECT model, count(*) FROM records GROUP BY model ORDER BY model"),
        missing_logprobs=q("SELECT count(*) FROM records WHERE logprob_sum IS NULL")[0][0],
        pass_hist=np.histogram(pass_rates, bins=edges), priority_hist=phist, ess=ess,
        tasks_never_drawn=[t for t in all_tasks if t not in drawn],
        draws=(q("SELECT coalesce(sum(count), 0) FROM draws")[0][0] + buf._pending_n),
    )
