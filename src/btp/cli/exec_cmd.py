"""``btp exec``: run programs (JSONL) against tasks (JSONL) in the sandbox; one result line each.

Results go to ``<out>.partial`` as programs finish (each line also carries a fingerprint of the
program, its task's tests, the limits and how it is judged); an interrupted run (Ctrl-C, kill -9)
resumes from it when the same command is run again: a program whose (task_id, program_id,
fingerprint) already has a well-formed line there is not run again. The partial file is locked
while a run writes it, so a second ``btp exec`` on the same ``--out`` stops with an error.
When every program is done, ``out`` is written in the input order and the partial file removed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from collections import Counter
from pathlib import Path

import typer

from btp.errors import BtpError

CHUNK = 32  # programs per run_batch between appends to the partial file (per worker)


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


def item_key(task, program_id: str, program: str, cfg) -> tuple[str, str, str]:
    """(task_id, program_id, fingerprint): the fingerprint covers all a result depends on (the
    program, the task's tests, the limits: ``cache_key``) and how it is judged (profile, float
    tolerance, timeout retries), so a partial file from another configuration is never reused."""
    from btp.execution.executor import cache_key

    judged = json.dumps([str(cfg.profile), cfg.float_tol, cfg.retry_timeouts])
    fingerprint = hashlib.sha256(f"{cache_key(task, program, cfg)}\0{judged}".encode()).hexdigest()
    return task.task_id, program_id, fingerprint


OUTCOMES = {"pass", "fail", "error", "timeout", "memory", "skipped"}


def read_partial(path: Path, wanted: dict[tuple[str, str, str], int]) -> dict[tuple[str, str, str], dict]:
    """Result lines of an interrupted run for the items in ``wanted`` (key -> number of tests);
    a torn, foreign or malformed line is skipped."""
    done: dict[tuple[str, str, str], dict] = {}
    if not path.exists():
        return done
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                row = json.loads(line)
                key = (row["task_id"], row["program_id"], row.pop("fingerprint"))
                outcomes = row["outcomes"]
                ok = (key in wanted and type(outcomes) is list and len(outcomes) == wanted[key]
                      and all(o in OUTCOMES for o in outcomes))
            except (ValueError, KeyError, TypeError, AttributeError):
                continue  # the line a kill cut short
            if ok:
                done[key] = row
    return done


def lock(path: Path):
    """An open handle holding an exclusive lock on ``path`` (created if missing): one ``btp exec``
    at a time per output."""
    import fcntl

    handle = path.open("a")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise BtpError(f"another btp exec is writing {path}; wait for it or choose another --out") from None
    except OSError:
        pass  # a filesystem without locks: run unlocked
    return handle


def append_partial(path: Path, rows: list[tuple[tuple[str, str, str], dict]]) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write("".join(json.dumps({**row, "fingerprint": key[2]}) + "\n" for key, row in rows))
        f.flush()
        os.fsync(f.fileno())


def register(app: typer.Typer) -> None:
    @app.command("exec")
    def exec_cmd(
        tasks: Path = typer.Option(..., "--tasks", help="task JSONL (Task.to_json per line)"),
        programs: Path = typer.Option(..., "--programs", help='JSONL of {"task_id", "program_id", "program"}'),
        out: Path = typer.Option(..., "--out", help="result JSONL, one line per program (a rerun resumes)"),
        workers: int = typer.Option(2, "--workers", help="parallel sandboxed workers"),
        timeout: float = typer.Option(5.0, "--timeout", help="CPU seconds per program"),
        memory_mb: int = typer.Option(1024, "--memory-mb", help="memory limit per program (MiB)"),
        profile: str = typer.Option("whitespace", "--profile",
                                    help="stdout comparison: whitespace, lines, exact, float, "
                                         "or a checker 'package.module:function(stdin, expected, actual)'"),
        float_tol: float = typer.Option(1e-6, "--float-tol", help="tolerance of the float profile"),
        retry_timeouts: bool = typer.Option(False, "--retry-timeouts/--no-retry-timeouts",
                                            help="rerun timed-out programs once; differing verdicts mark them flaky"),
        cache: bool = typer.Option(True, "--cache/--no-cache", help="reuse results of identical programs"),
    ) -> None:
        """Run programs against their tasks' tests in the sandbox and write per-program results."""
        from rich.console import Console

        from btp.execution import ExecConfig, Executor, Outcome
        from btp.progress import progress_bar

        cfg = ExecConfig(workers=workers, timeout=timeout, memory_mb=memory_mb, profile=profile,
                         float_tol=float_tol, retry_timeouts=retry_timeouts, cache=cache)
        items = load_inputs(tasks, programs)
        keys = [item_key(t, pid, p, cfg) for t, pid, p in items]
        partial = out.with_name(out.name + ".partial")
        with lock(partial):  # released however this ends
            # the tests, the other programs and their verdicts: never readable by a program
            cfg = dataclasses.replace(cfg, hide=(*cfg.hide, str(tasks), str(programs), str(partial)))
            done = read_partial(partial, {k: len(t.tests) for k, (t, _, _) in zip(keys, items)})
            todo = [(k, t, p) for k, (t, _, p) in zip(keys, items) if k not in done]
            console = Console(stderr=True)
            if done and len(todo) < len(items):
                console.print(f"resuming: {len(items) - len(todo)} of {len(items)} programs already in {partial}")
            t0 = time.perf_counter()
            if todo:
                with Executor(cfg) as ex, progress_bar(console) as bar:
                    job = bar.add_task("exec", total=len(todo), info="")
                    step = CHUNK * workers
                    for i in range(0, len(todo), step):
                        chunk = todo[i:i + step]
                        results = ex.run_batch([(t, p) for _, t, p in chunk],
                                               progress=lambda n: bar.update(job, advance=n))
                        rows = [(k, r.to_json(k[0], k[1])) for (k, _, _), r in zip(chunk, results)]
                        append_partial(partial, rows)
                        done.update(rows)
                        rate = (i + len(chunk)) / max(1e-9, time.perf_counter() - t0)
                        bar.update(job, info=f"{rate:.1f} programs/s")
            elapsed = time.perf_counter() - t0
            tmp = out.with_name(out.name + ".tmp")
            with tmp.open("w") as f:
                f.write("".join(json.dumps(done[k]) + "\n" for k in keys))
            tmp.replace(out)
            partial.unlink(missing_ok=True)
        kinds = Counter(o for k in keys for o in done[k]["outcomes"])
        by_kind = ", ".join(f"{o.value} {kinds[o.value]}" for o in Outcome if kinds[o.value])
        rate = len(todo) / elapsed if todo and elapsed > 0 else 0.0
        resumed = f", {len(items) - len(todo)} from the partial file" if len(todo) < len(items) else ""
        typer.echo(f"{len(items)} programs, {sum(kinds.values())} tests ({by_kind or 'none'}), "
                   f"{rate:.1f} programs/s{resumed} -> {out}")
