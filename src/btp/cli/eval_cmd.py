"""``btp eval: greedy decoding, pass rate and strict accuracy per model``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console


def register(app: typer.Typer) -> None:
    @app.command("eval")
    def eval_cmd(
        model: List[str] = typer.Option(["smollm2-135m-instruct"], help="model(s) to evaluate; repeat to compare"),
        tasks: Optional[Path] = typer.Option(None, help="task JSONL (default: --dataset)"),
        dataset: str = typer.Option("humaneval"), path: Optional[str] = typer.Option(None),
        split: Optional[str] = typer.Option(None), fold: Optional[str] = typer.Option(None),
        limit: Optional[int] = typer.Option(None), max_new_tokens: int = typer.Option(384),
        batch_size: int = typer.Option(8), json_out: Optional[Path] = typer.Option(None, "--json", help="write the summary as JSON"),
    ) -> None:
        """Greedy decoding, then pass rate and strict accuracy per model."""
        from rich.table import Table

        from btp.evaluation.run import evaluate
        from btp.execution import ExecConfig, Executor
        from btp.models import load_model
        from btp.progress import progress_bar
        from btp.sampling.hf import HFSampler
        from btp.tasks import DatasetSpec, load_tasks, read_tasks_jsonl

        task_list = read_tasks_jsonl(tasks) if tasks else load_tasks(DatasetSpec(dataset, path=path, split=split, fold=fold, limit=limit))
        console = Console()
        table = Table("model", "tasks", "pass rate", "strict accuracy")
        summaries = {}
        with Executor(ExecConfig()) as ex:
            for name in model:
                m, tok = load_model(name)
                sampler = HFSampler(m, tok, name, max_new_tokens=max_new_tokens, batch_size=batch_size)
                with progress_bar(console) as bar:
                    job = bar.add_task(f"eval {name}", total=len(task_list), info="")
                    summary, _ = evaluate(sampler, ex, task_list, progress=lambda n: bar.update(job, advance=n))
                summaries[name] = summary
                table.add_row(name, str(len(task_list)), f"{summary['pass_rate']:.3f}", f"{summary['strict_accuracy']:.3f}")
        console.print(table)
        if json_out:
            json_out.write_text(json.dumps(summaries, indent=2))
