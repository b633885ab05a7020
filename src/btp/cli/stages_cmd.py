"""Stage commands that read and write files: ``btp sample``, ``btp train``, ``btp eval``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console


def _read_tasks(path: Path):
    from btp.tasks import read_tasks_jsonl

    return read_tasks_jsonl(path)


def _done_ids(out: Path) -> set[str]:
    """Task ids already written to a program JSONL; a torn last line (killed writer) is dropped."""
    if not out.exists():
        return set()
    lines = out.read_text().split("\n")
    good, ids = [], set()
    for line in lines:
        try:
            ids.add(json.loads(line)["task_id"])
            good.append(line)
        except (json.JSONDecodeError, KeyError):
            continue
    out.write_text("".join(line + "\n" for line in good))
    return ids


def register(app: typer.Typer) -> None:
    @app.command("sample")
    def sample_cmd(
        tasks: Path = typer.Option(..., help="task JSONL"),
        out: Path = typer.Option(..., help="program JSONL to write (appended; a rerun resumes)"),
        model: str = typer.Option("smollm2-135m-instruct", help="alias, folder or hub id"),
        k: int = typer.Option(3, help="beams = programs per task"),
        max_new_tokens: int = typer.Option(384),
        batch_size: int = typer.Option(4, help="tasks per generate call"),
        dtype: str = typer.Option("float32"),
        device: str = typer.Option("cpu"),
    ) -> None:
        """Beam-search k programs per task. Each line: task_id, program_id, program, logprob_sum, n_tokens, beam_rank, model."""
        from btp.models import load_model
        from btp.progress import progress_bar
        from btp.sampling.hf import HFSampler

        todo_all = _read_tasks(tasks)
        done = _done_ids(out)
        todo = [t for t in todo_all if t.task_id not in done]
        console = Console(stderr=True)
        m, tok = load_model(model, dtype=dtype, device=device)
        sampler = HFSampler(m, tok, model, max_new_tokens=max_new_tokens, batch_size=batch_size)
        with open(out, "a") as f, progress_bar(console) as bar:
            job = bar.add_task("sample", total=len(todo), info="")
            for samples in sampler.sample(todo, k):
                for s in samples:
                    f.write(json.dumps({"task_id": s.task_id, "program_id": f"{s.task_id}#{s.beam_rank}",
                                        "program": s.program, "logprob_sum": s.logprob_sum, "n_tokens": s.n_tokens,
                                        "beam_rank": s.beam_rank, "model": s.model, "raw": s.raw}) + "\n")
                f.flush()
                bar.update(job, advance=1)
        console.print(f"{len(todo)} tasks sampled ({len(done)} already done) -> {out}")

    @app.command("train")
    def train_cmd(
        buffer: Path = typer.Option(..., help="buffer.sqlite to draw minibatches from"),
        out: Path = typer.Option(..., help="folder for the fine-tuned model (HF format)"),
        model: str = typer.Option("smollm2-135m-instruct", help="starting model"),
        steps: int = typer.Option(40), batch_size: int = typer.Option(4), lr: float = typer.Option(2e-5),
        alpha: float = typer.Option(0.5), mode: str = typer.Option("proportional", help="proportional|rank|uniform|pass_only"),
        exponent: float = typer.Option(1.0), seed: int = typer.Option(0),
    ) -> None:
        """Fine-tune on minibatches drawn from a buffer by priority; save a normal HF folder."""
        from btp.models import load_model
        from btp.pipeline import BufferSource
        from btp.replay import Buffer, PriorityConfig
        from btp.training import TrainConfig, train

        m, tok = load_model(model)
        cfg = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, seed=seed)
        with Buffer(buffer) as buf:
            source = BufferSource(buf, PriorityConfig(alpha=alpha, mode=mode, exponent=exponent), tok, seed)
            history = train(m, tok, source, cfg)
        m.save_pretrained(out)
        tok.save_pretrained(out)
        print(f"trained {steps} steps, final loss {history[-1]['loss']:.4f} -> {out}")

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
        from btp.tasks import DatasetSpec, load_tasks

        task_list = _read_tasks(tasks) if tasks else load_tasks(DatasetSpec(dataset, path=path, split=split, fold=fold, limit=limit))
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
