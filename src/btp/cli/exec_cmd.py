"""``btp exec``: run programs (JSONL) against tasks (JSONL) in the sandbox; one result line each."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import typer

from btp.errors import BtpError


def load_inputs(tasks_path: Path, programs_path: Path):
    """Tasks by id and validated (task, program_id, program) triples."""
    from btp.tasks import read_tasks_jsonl
    from btp.tasks.rows import read_rows

    tasks = {task.task_id: task for task in read_tasks_jsonl(tasks_path)}
    items = []
    for n, row in enumerate(read_rows(programs_path)):
        obj = row.obj
        for key in ("task_id", "program"):
            if key not in obj:
                raise BtpError(f"{row.where}: missing field {key!r}")
        if obj["task_id"] not in tasks:
            raise BtpError(f"{row.where}: unknown task_id {obj['task_id']!r} (not in {tasks_path})")
        if not isinstance(obj["program"], str):
            raise BtpError(f"{row.where}: 'program' must be a string")
        items.append((tasks[obj["task_id"]], str(obj.get("program_id", n)), obj["program"]))
    return items


def register(app: typer.Typer) -> None:
    @app.command("exec")
    def exec_cmd(
        tasks: Path = typer.Option(..., "--tasks", help="task JSONL (Task.to_json per line)"),
        programs: Path = typer.Option(..., "--programs", help='JSONL of {"task_id", "program_id", "program"}'),
        out: Path = typer.Option(..., "--out", help="result JSONL, one line per program"),
        workers: int = typer.Option(2, "--workers", help="parallel sandboxed workers"),
        timeout: float = typer.Option(5.0, "--timeout", help="CPU seconds per program"),
        memory_mb: int = typer.Option(1024, "--memory-mb", help="memory limit per program (MiB)"),
        profile: str = typer.Option("whitespace", "--profile",
                                    help="stdout comparison: whitespace, lines, exact, float"),
        cache: bool = typer.Option(True, "--cache/--no-cache", help="reuse results of identical programs"),
    ) -> None:
        """Run programs against their tasks' tests in the sandbox and write per-program results."""
        from btp.execution import ExecConfig, Executor, Outcome

        cfg = ExecConfig(workers=workers, timeout=timeout, memory_mb=memory_mb, profile=profile, cache=cache)
        items = load_inputs(tasks, programs)
        t0 = time.perf_counter()
        with Executor(cfg) as ex:
            results = ex.run_batch([(t, p) for t, _, p in items])
        elapsed = time.perf_counter() - t0
        tmp = out.with_name(out.name + ".tmp")
        with tmp.open("w") as f:
            for (task, pid, _), res in zip(items, results):
                f.write(json.dumps(res.to_json(task.task_id, pid)) + "\n")
        tmp.replace(out)
        kinds = Counter(o for r in results for o in r.outcomes)
        by_kind = ", ".join(f"{o.value} {kinds[o]}" for o in Outcome if kinds[o])
        rate = len(results) / elapsed if elapsed > 0 else 0.0
        typer.echo(f"{len(results)} programs, {sum(kinds.values())} tests ({by_kind or 'none'}), "
                   f"{rate:.1f} programs/s -> {out}")
