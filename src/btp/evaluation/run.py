"""Evaluate a model on tasks: sample, execute, summarize (pass rate, strict accuracy, pass@k)."""

from __future__ import annotations

from typing import Callable, Iterator, Mapping, Sequence

from btp.evaluation.metrics import groups_by, summarize
from btp.execution.types import Result
from btp.sampling.types import Sample, Sampler
from btp.tasks.types import Task


def evaluate(sampler: Sampler, executor, tasks: Sequence[Task], *, n: int = 1, ks: Sequence[int] = (1,),
             progress: Callable[[int], None] | None = None,
             group_by: str | None = None) -> tuple[dict, dict[str, list[tuple[Sample, Result]]]]:
    """Return (summary, per-task [(sample, result)]). ``n`` programs per task (greedy when 1).

    ``group_by`` ("source" or a task meta key such as "difficulty") adds per-group summaries."""
    per_task: dict[str, list[tuple[Sample, Result]]] = {}
    by_id = {t.task_id: t for t in tasks}
    for samples in sampler.sample(tasks, n):
        task = by_id[samples[0].task_id]
        results = executor.run(task, [s.program for s in samples])
        per_task[task.task_id] = list(zip(samples, results))
        if progress is not None:
            progress(1)
    summary = summarize({tid: [r for _, r in pairs] for tid, pairs in per_task.items()},
                        k=[k for k in ks if k <= n], group_of=groups_by(tasks, group_by) if group_by else None)
    return summary, per_task


def program_rows(per_task: Mapping[str, list[tuple[Sample, Result]]], *, with_raw: bool = False,
                 **fields) -> Iterator[dict]:
    """One JSON row per evaluated program (``evaluate``'s per-task pairs): ``fields``, the model's
    raw text if asked, the program, and its outcomes (``Result.to_json``)."""
    for task_id, pairs in per_task.items():
        for sample, result in pairs:
            row = {**fields, "raw": sample.raw} if with_raw else dict(fields)
            row["program"] = sample.program
            yield {**row, **result.to_json(task_id, f"{task_id}#{sample.beam_rank}")}
