"""``btp sample: beam-search programs for tasks, written as program JSONL (resumable)``."""

from __future__ import annotations

import json
from pathlib import Path

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
