"""``btp tasks``: list the registered datasets; export one (with split/fold/limit) to btp task JSONL."""

from __future__ import annotations

from typing import Optional

import typer

from btp.tasks import DatasetSpec, dataset_names, load_tasks, write_tasks_jsonl

tasks_app = typer.Typer(help="Benchmark datasets: list them, export them as btp task JSONL.", no_args_is_help=True)


@tasks_app.command("list")
def list_cmd() -> None:
    """Print the registered dataset names, one per line."""
    for name in dataset_names():
        typer.echo(name)


@tasks_app.command("export")
def export_cmd(
    name: str = typer.Argument(..., help="dataset name (see `btp tasks list`) or a known hub id"),
    out: str = typer.Option(..., "--out", help="btp task JSONL file to write"),
    path: Optional[str] = typer.Option(None, "--path", help="local file or folder of the dataset"),
    split: Optional[str] = typer.Option(None, "--split", help="named split, e.g. MBPP test/train/validation/prompt"),
    fold: Optional[str] = typer.Option(None, "--fold", help="'i/n': keep tasks with sha256(task_id) mod n == i"),
    limit: Optional[int] = typer.Option(None, "--limit", help="keep the first N tasks after split and fold"),
    tests: Optional[str] = typer.Option(None, "--tests", help="comma-separated test groups, e.g. public,private"),
) -> None:
    """Load a dataset and write it as btp task JSONL; print how many tasks and tests were written."""
    groups = tuple(g.strip() for g in tests.split(",") if g.strip()) if tests else None
    spec = DatasetSpec(name=name, path=path, split=split, fold=fold, limit=limit, test_groups=groups)
    tasks = load_tasks(spec)
    n = write_tasks_jsonl(tasks, out)
    n_tests = sum(len(t.tests) for t in tasks)
    typer.echo(f"wrote {n} tasks with {n_tests} tests to {out}")


def register(app: typer.Typer) -> None:
    """Add the ``tasks`` sub-app to the ``btp`` command."""
    app.add_typer(tasks_app, name="tasks")
