"""``btp eval``: pass rate, strict accuracy and unbiased pass@k, per model and per group."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.3f}"


def register(app: typer.Typer) -> None:
    @app.command("eval")
    def eval_cmd(
        model: List[str] = typer.Option(["smollm2-135m-instruct"], help="model(s) to evaluate; repeat to compare"),
        tasks: Optional[Path] = typer.Option(None, help="task JSONL (default: --dataset)"),
        dataset: str = typer.Option("humaneval"), path: Optional[str] = typer.Option(None),
        split: Optional[str] = typer.Option(None), fold: Optional[str] = typer.Option(None),
        limit: Optional[int] = typer.Option(None), max_new_tokens: int = typer.Option(384),
        batch_size: int = typer.Option(8),
        dtype: str = typer.Option("float32", help="weights dtype: float32 or bfloat16"),
        device: str = typer.Option("cpu", help="cpu, cuda, cuda:1, ..."),
        n: int = typer.Option(1, help="programs per task: 1 = greedy; n > 1 = temperature samples"),
        k: List[int] = typer.Option([1], help="report unbiased pass@k (k <= n); repeat for several"),
        temperature: float = typer.Option(0.8, help="sampling temperature when n > 1"),
        top_p: float = typer.Option(0.95, help="nucleus mass when n > 1"),
        seed: int = typer.Option(0, help="sampling seed when n > 1"),
        group_by: Optional[str] = typer.Option(None, help="also report per group: 'source' or a task meta key "
                                                          "(e.g. 'difficulty' for APPS/CodeContests)"),
        programs_out: Optional[Path] = typer.Option(None, help="write every program and its outcomes as JSONL"),
        json_out: Optional[Path] = typer.Option(None, "--json", help="write the summaries as JSON"),
    ) -> None:
        """Sample n programs per task per model, run the tests, report pass rate / strict accuracy / pass@k."""
        from rich.table import Table

        from btp.config import EvalConfig
        from btp.evaluation.run import evaluate, program_rows
        from btp.execution import ExecConfig, Executor
        from btp.models import load_model
        from btp.progress import progress_bar
        from btp.sampling.hf import HFSampler
        from btp.tasks import DatasetSpec, load_tasks, read_tasks_jsonl

        EvalConfig(n=n, ks=list(k), temperature=temperature, top_p=top_p)  # validates, one-line errors
        task_list = read_tasks_jsonl(tasks) if tasks else load_tasks(DatasetSpec(dataset, path=path, split=split, fold=fold, limit=limit))
        ks = sorted(set(k))
        console = Console()
        table = Table("model", "group", "tasks", "programs", "pass rate", "strict accuracy", *[f"pass@{x}" for x in ks],
                      title=f"n={n} ({'greedy' if n == 1 else f'T={temperature}, top_p={top_p}'})")
        summaries = {}
        out_f = open(programs_out, "w") if programs_out else None
        try:
            with Executor(ExecConfig()) as ex:
                for name in model:
                    m, tok = load_model(name, dtype=dtype, device=device)
                    sampler = HFSampler(m, tok, name, max_new_tokens=max_new_tokens, batch_size=batch_size,
                                        method="beam" if n == 1 else "sample", temperature=temperature,
                                        top_p=top_p, seed=seed)
                    with progress_bar(console) as bar:
                        job = bar.add_task(f"eval {name}", total=len(task_list), info="")
                        summary, per_task = evaluate(sampler, ex, task_list, n=n, ks=ks, group_by=group_by,
                                                     progress=lambda x: bar.update(job, advance=x))
                    summaries[name] = summary
                    rows = [("all", summary)] + sorted((summary.get("groups") or {}).items())
                    for group, s in rows:
                        table.add_row(name, group, str(s["n_tasks"]), str(s["n_programs"]), _fmt(s["pass_rate"]),
                                      _fmt(s["strict_accuracy"]), *[_fmt(s.get(f"pass@{x}")) for x in ks])
                    if out_f:
                        for row in program_rows(per_task, model=name):
                            out_f.write(json.dumps(row) + "\n")
                    del m, sampler
        finally:
            if out_f:
                out_f.close()
        console.print(table)
        if json_out:
            json_out.write_text(json.dumps(summaries, indent=2))
