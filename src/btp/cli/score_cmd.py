"""``btp score``: re-score a buffer's programs under a model by teacher forcing (resumable).

The writer's own log-probs stay in the record; the new ones go to the buffer's ``scores`` table
under the model's name, where ``PriorityConfig(p_model=NAME)`` (``--p-model`` in ``btp buffer``)
reads them. So programs written by a teacher get a P under the model being trained.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console

from btp.errors import BtpError


def register(app: typer.Typer) -> None:
    @app.command("score")
    def score_cmd(
        buffer: Path = typer.Argument(..., help="replay buffer (.sqlite)"),
        model: str = typer.Option(..., help="alias, folder or hub id of the scoring model; scores are stored under this name"),
        round: int = typer.Option(None, help="only records of this round"),
        writer: str = typer.Option(None, help="only records written by this model"),
        batch_size: int = typer.Option(4, help="programs per forward pass"),
        chunk: int = typer.Option(64, help="records scored between two commits"),
        dtype: str = typer.Option("float32"),
        device: str = typer.Option("cpu"),
    ) -> None:
        """Teacher-force each stored program under --model; store (logprob_sum, n_tokens) per record."""
        from btp.models import load_model
        from btp.progress import progress_bar
        from btp.replay import Buffer
        from btp.sampling.score import HFScorer, program_item

        if not buffer.exists():
            raise BtpError(f"{buffer}: no such buffer file")
        console = Console(stderr=True)
        with Buffer(buffer) as buf:
            done = set(buf.storage.scores(model)[0].tolist())
            todo = [r for r in buf.records(round, writer) if r.id not in done]
            if todo:
                m, tok = load_model(model, dtype=dtype, device=device)
                scorer = HFScorer(m, tok, model, batch_size=batch_size)
                tasks: dict = {}
                t0 = time.time()
                with progress_bar(console) as bar:
                    job = bar.add_task(f"score under {model}", total=len(todo), info="")
                    for i in range(0, len(todo), chunk):
                        part = todo[i : i + chunk]
                        items = []
                        for r in part:
                            if r.task_id not in tasks:
                                tasks[r.task_id] = buf.get_task(r.task_id)
                            items.append(program_item(tasks[r.task_id], r.program, tok))
                        res = scorer.score(items)
                        buf.set_p([r.id for r in part], [lp for lp, _ in res], [n for _, n in res], model)
                        bar.update(job, advance=len(part), info=f"{(i + len(part)) / (time.time() - t0):.2f} programs/s")
        console.print(f"{len(todo)} records scored under {model} ({len(done)} already) -> {buffer}")
