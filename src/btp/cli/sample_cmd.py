"""``btp sample``: beam-search programs for tasks into a replay buffer (tested) or a program JSONL.

Both outputs resume after an interruption (even ``kill -9``): the buffer marks each task done in
the transaction that stores its programs; the JSONL drops a torn last line and skips written tasks.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.console import Console

from btp.errors import BtpError


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
        except (json.JSONDecodeError, KeyError, TypeError):
            continue
    out.write_text("".join(line + "\n" for line in good))
    return ids


def rate_info(t0: float, programs: int, tokens: int) -> str:
    dt = max(1e-9, time.time() - t0)
    return f"{programs / dt:.2f} programs/s  {tokens / dt:.0f} tok/s"


def _sampler(model: str, backend: str, *, dtype: str, device: str, max_new_tokens: int, batch_size: int,
             base_url: str | None, concurrency: int):
    if backend == "hf":
        from btp.models import load_model
        from btp.sampling.hf import HFSampler

        m, tok = load_model(model, dtype=dtype, device=device)
        return HFSampler(m, tok, model, max_new_tokens=max_new_tokens, batch_size=batch_size)
    if backend == "openai":
        from btp.sampling.openai import OpenAISampler

        if not base_url:
            raise BtpError("--backend openai needs --base-url (e.g. http://127.0.0.1:8080/v1)")
        return OpenAISampler(base_url=base_url, model=model, max_tokens=max_new_tokens, concurrency=concurrency)
    if backend == "vllm":
        from btp.sampling.vllm import VLLMSampler

        return VLLMSampler.load(model, dtype=dtype, max_new_tokens=max_new_tokens)
    raise BtpError(f"unknown backend {backend!r} (expected hf, openai or vllm)")


def register(app: typer.Typer) -> None:
    @app.command("sample")
    def sample_cmd(
        tasks: Path = typer.Option(..., help="task JSONL"),
        out: Path = typer.Option(None, help="program JSONL to write (appended; a rerun resumes)"),
        buffer: Path = typer.Option(None, help="replay buffer to fill: programs are tested and stored (resumes)"),
        round: int = typer.Option(1, help="round number recorded with buffer records"),
        model: str = typer.Option("smollm2-135m-instruct", help="alias, folder or hub id (openai: the served model name)"),
        backend: str = typer.Option("hf", help="hf | openai | vllm"),
        base_url: str = typer.Option(None, help="openai backend: server URL ending in /v1"),
        concurrency: int = typer.Option(4, help="openai backend: requests in flight"),
        k: int = typer.Option(3, help="beams = programs per task"),
        max_new_tokens: int = typer.Option(384),
        batch_size: int = typer.Option(4, help="hf: tasks decoded together (rows = batch_size * k)"),
        dtype: str = typer.Option("float32"),
        device: str = typer.Option("cpu"),
    ) -> None:
        """Beam-search k programs per task into --buffer (tested, deduplicated) or --out (program JSONL)."""
        from btp.progress import progress_bar
        from btp.tasks import read_tasks_jsonl

        if (out is None) == (buffer is None):
            raise BtpError("give exactly one of --out (program JSONL) or --buffer (replay buffer)")
        if k < 1:
            raise BtpError(f"--k must be >= 1, got {k}")
        todo_all = read_tasks_jsonl(tasks)
        console = Console(stderr=True)
        writer = _Buffered(buffer, round, model) if buffer is not None else _Jsonl(out)
        with writer:
            done = writer.done()
            todo = [t for t in todo_all if t.task_id not in done]
            if todo:
                sampler = _sampler(model, backend, dtype=dtype, device=device, max_new_tokens=max_new_tokens,
                                   batch_size=batch_size, base_url=base_url, concurrency=concurrency)
                by_id = {t.task_id: t for t in todo}
                t0, n_prog, n_tok = time.time(), 0, 0
                with progress_bar(console) as bar:
                    job = bar.add_task("sample", total=len(todo), info="")
                    for samples in sampler.sample(todo, k):
                        writer.write(by_id[samples[0].task_id], samples)
                        n_prog += len(samples)
                        n_tok += sum(s.n_generated for s in samples)
                        bar.update(job, advance=1, info=rate_info(t0, n_prog, n_tok))
        console.print(f"{len(todo)} tasks sampled ({len(done)} already done) -> {out or buffer}")


class _Jsonl:
    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if getattr(self, "f", None):
            self.f.close()

    def done(self) -> set[str]:
        ids = _done_ids(self.path)
        self.f = open(self.path, "a")
        return ids

    def write(self, task, samples) -> None:
        for s in samples:
            self.f.write(json.dumps({"task_id": s.task_id, "program_id": f"{s.task_id}#{s.beam_rank}",
                                     "program": s.program, "logprob_sum": s.logprob_sum, "n_tokens": s.n_tokens,
                                     "beam_rank": s.beam_rank, "model": s.model, "raw": s.raw}) + "\n")
        self.f.flush()


class _Buffered:
    """Test each task's programs in the sandbox and store them with its done marker (one transaction)."""

    def __init__(self, path: Path, round_: int, model: str):
        self.path, self.round, self.model = path, round_, model

    def __enter__(self):
        from btp.execution import ExecConfig, Executor
        from btp.replay import Buffer

        self.buffer = Buffer(self.path)
        self.executor = Executor(ExecConfig())
        self.executor.__enter__()
        return self

    def __exit__(self, *exc):
        self.executor.__exit__(*exc)
        self.buffer.close()

    def done(self) -> set[str]:
        return self.buffer.sampled(self.round, self.model)

    def write(self, task, samples) -> None:
        from btp.pipeline import store_samples

        self.buffer.add_tasks([task])
        store_samples(self.buffer, self.executor, task, samples, self.round, self.model)
