"""Rounds of sample -> test -> store -> train -> evaluate, resumable per stage.

A run directory holds everything needed to resume or audit a number::

    runs/<name>/config.yaml  buffer.sqlite  checkpoints/round-N/  metrics.jsonl  state.json

Stages finished are listed in ``state.json``; sampling also resumes task by task (the buffer marks
each task done in the same transaction that stores its programs).
"""

from __future__ import annotations

import gc
import json
import shutil
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from btp.config import RunConfig, from_dict, save_config, to_dict
from btp.errors import BtpError
from btp.evaluation.run import evaluate
from btp.execution import Executor
from btp.models import load_model
from btp.progress import progress_bar
from btp.replay import Buffer
from btp.replay.types import Record, program_hash
from btp.sampling.hf import HFSampler
from btp.sampling.prompts import render_prompt
from btp.sampling.types import Sample
from btp.tasks import DatasetSpec, load_tasks
from btp.tasks.types import Task
from btp.training import Example, completion_text, train


class RunState:
    """Finished stages of a run, persisted atomically in ``state.json``."""

    def __init__(self, path: Path):
        self.path = path
        self.done: list[str] = json.loads(path.read_text())["done"] if path.exists() else []

    def __contains__(self, stage: str) -> bool:
        return stage in self.done

    def mark(self, stage: str) -> None:
        self.done.append(stage)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"done": self.done}, indent=1))
        tmp.replace(self.path)


def dataset_label(spec: DatasetSpec) -> str:
    parts = [spec.name] + [f"{k}={v}" for k, v in (("split", spec.split), ("fold", spec.fold), ("limit", spec.limit)) if v]
    return " ".join(parts)


def store_samples(buffer: Buffer, executor: Executor, task: Task, samples: Sequence[Sample], round_: int,
                  writer: str) -> list[Record]:
    """Dedupe one task's beams (identical programs stored once with a count), test, store."""
    unique: dict[str, tuple[Sample, int]] = {}
    for s in samples:
        h = program_hash(s.program)
        first, count = unique.get(h, (s, 0))
        unique[h] = (first, count + 1)
    kept = list(unique.values())
    results = executor.run(task, [s.program for s, _ in kept])
    records = [
        Record(task_id=task.task_id, program=s.program, pass_rate=r.pass_rate, passed=r.passed, total=r.total,
               outcomes=tuple(o.value for o in r.outcomes), model=writer, round=round_,
               logprob_sum=s.logprob_sum, n_tokens=s.n_tokens, count=count, beam_rank=s.beam_rank)
        for (s, count), r in zip(kept, results)
    ]
    buffer.add(records, done=(task.task_id, round_, writer))
    return records


class BufferSource:
    """Training examples drawn from the buffer by priority (see ``btp.replay.PriorityConfig``)."""

    def __init__(self, buffer: Buffer, cfg, tokenizer, seed: int):
        self.buffer, self.cfg, self.tok = buffer, cfg, tokenizer
        self.rng = np.random.default_rng(seed)
        self._prompts: dict[str, str] = {}
        self.last_batch = None

    def next(self, n: int) -> list[Example]:
        batch = self.buffer.sample(n, self.cfg, self.rng)
        self.last_batch = batch
        return [Example(self._prompt(r.task_id), completion_text(r.program), float(w))
                for r, w in zip(batch.records, batch.weights)]

    def _prompt(self, task_id: str) -> str:
        if task_id not in self._prompts:
            self._prompts[task_id] = render_prompt(self.buffer.get_task(task_id), self.tok)
        return self._prompts[task_id]


class Pipeline:
    def __init__(self, cfg: RunConfig, console):
        self.cfg, self.console = cfg, console
        self.dir = Path(cfg.run_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._check_config()
        self.state = RunState(self.dir / "state.json")
        self.metrics_path = self.dir / "metrics.jsonl"

    def _check_config(self) -> None:
        path = self.dir / "config.yaml"
        if path.exists():
            import yaml

            old = from_dict(RunConfig, yaml.safe_load(path.read_text()))
            if to_dict(old) != to_dict(self.cfg):
                raise BtpError(f"{self.dir} holds a run with a different config; use another run_dir")
        else:
            save_config(self.cfg, path)

    def log_metric(self, row: dict) -> None:
        with open(self.metrics_path, "a") as f:
            f.write(json.dumps(row) + "\n")

    def model_at(self, round_: int) -> str:
        """The trained model after ``round_`` rounds (round 0 = the starting model)."""
        return self.cfg.model.name if round_ == 0 else str(self.dir / "checkpoints" / f"round-{round_}")

    def load(self, name: str):
        t0 = time.time()
        model, tok = load_model(name, dtype=self.cfg.model.dtype, device=self.cfg.model.device)
        self.console.print(f"[dim]loaded {name} in {time.time() - t0:.1f}s[/dim]")
        return model, tok

    def run(self) -> list[dict]:
        cfg = self.cfg
        train_tasks = [t for spec in cfg.train_tasks for t in load_tasks(spec)]
        evals = [(dataset_label(spec), load_tasks(spec)) for spec in cfg.eval_tasks]
        if not train_tasks:
            raise BtpError("train_tasks selected no task")
        with Buffer(self.dir / "buffer.sqlite") as buffer, Executor(cfg.execution) as executor:
            buffer.add_tasks(train_tasks)
            if cfg.eval.before:
                self.stage_eval(0, evals, executor)
            for r in range(1, cfg.rounds + 1):
                self.stage_sample(r, train_tasks, buffer, executor)
                self.stage_train(r, buffer)
                self.stage_eval(r, evals, executor)
        return self.table()

    def stage_sample(self, r: int, tasks: list[Task], buffer: Buffer, executor: Executor) -> None:
        stage = f"sample:{r}"
        if stage in self.state:
            return
        writer = self.cfg.model.teacher or self.model_at(r - 1)
        todo = [t for t in tasks if t.task_id not in buffer.sampled(r, writer)]
        if todo:
            model, tok = self.load(writer)
            s = self.cfg.sampling
            sampler = HFSampler(model, tok, writer, max_new_tokens=s.max_new_tokens, batch_size=s.batch_size)
            by_id = {t.task_id: t for t in todo}
            t0, n_prog, n_pass = time.time(), 0, 0
            with progress_bar(self.console) as bar:
                job = bar.add_task(f"round {r}: sample k={s.k}, test, store", total=len(todo), info="")
                for samples in sampler.sample(todo, s.k):
                    records = store_samples(buffer, executor, by_id[samples[0].task_id], samples, r, writer)
                    n_prog += len(records)
                    n_pass += sum(rec.pass_rate == 1.0 for rec in records)
                    bar.update(job, advance=1, info=f"{n_prog / (time.time() - t0):.2f} programs/s")
            self.log_metric({"stage": "sample", "round": r, "model": writer, "tasks": len(todo),
                             "programs": n_prog, "all_pass": n_pass, "seconds": round(time.time() - t0, 1)})
            del model, sampler
            gc.collect()
        self.state.mark(stage)

    def stage_train(self, r: int, buffer: Buffer) -> None:
        stage = f"train:{r}"
        if stage in self.state:
            return
        model, tok = self.load(self.model_at(r - 1))
        tcfg = self.cfg.train
        source = BufferSource(buffer, self.cfg.replay, tok, seed=self.cfg.seed * 1000 + r)
        t0 = time.time()
        with progress_bar(self.console) as bar:
            job = bar.add_task(f"round {r}: train", total=tcfg.steps, info="")

            def on_step(row: dict) -> None:
                batch = source.last_batch
                row.update(stage="train", round=r,
                           batch_pass_rate=float(np.mean([x.pass_rate for x in batch.records])))
                self.log_metric(row)
                bar.update(job, advance=1, info=f"loss {row['loss']:.3f}  {row['tokens'] / max(1e-9, time.time() - on_step.t):.0f} tok/s")
                on_step.t = time.time()

            on_step.t = time.time()
            train(model, tok, source, tcfg, on_step=on_step)
        out = self.dir / "checkpoints" / f"round-{r}"
        tmp = out.with_name(out.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        shutil.rmtree(out, ignore_errors=True)  # a stage killed after its save leaves one behind
        tmp.replace(out)
        self.log_metric({"stage": "train_done", "round": r, "seconds": round(time.time() - t0, 1)})
        del model
        gc.collect()
        self.state.mark(stage)

    def stage_eval(self, r: int, evals: list[tuple[str, list[Task]]], executor: Executor) -> None:
        stage = f"eval:{r}"
        if stage in self.state:
            return
        name = self.model_at(r)
        model, tok = self.load(name)
        e = self.cfg.eval
        sampler = HFSampler(model, tok, name, max_new_tokens=e.max_new_tokens, batch_size=e.batch_size)
        for label, tasks in evals:
            t0 = time.time()
            with progress_bar(self.console) as bar:
                job = bar.add_task(f"eval round {r}: {label}", total=len(tasks), info="")
                summary, _ = evaluate(sampler, executor, tasks, progress=lambda n: bar.update(job, advance=n))
            self.log_metric({"stage": "eval", "round": r, "dataset": label, "model": name,
                             "seconds": round(time.time() - t0, 1), **summary})
        del model, sampler
        gc.collect()
        self.state.mark(stage)

    def table(self) -> list[dict]:
        rows = []
        if self.metrics_path.exists():
            for line in self.metrics_path.read_text().splitlines():
                row = json.loads(line)
                if row.get("stage") == "eval":
                    rows.append(row)
        return rows
