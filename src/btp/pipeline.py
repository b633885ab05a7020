"""Rounds of sample -> test -> store -> train -> evaluate, resumable per stage.

A run directory holds everything needed to resume or audit a number::

    runs/<name>/config.yaml  buffer.sqlite  checkpoints/round-N/  metrics.jsonl  state.json

Stages finished are listed in ``state.json``; sampling also resumes task by task (the buffer marks
each task done in the same transaction that stores its programs).
"""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from btp import runlog
from btp.config import RunConfig, from_dict, save_config, to_dict
from btp.errors import BtpError
from btp.evaluation.run import evaluate, program_rows
from btp.execution import Executor
from btp.models import load_model
from btp.progress import progress_bar
from btp.replay import Buffer
from btp.replay.types import Record, program_hash
from btp.sampling.extract import answer_code
from btp.sampling.hf import HFSampler
from btp.sampling.prompts import render_prompt
from btp.sampling.types import Sample
from btp.tasks import DatasetSpec, load_tasks
from btp.tasks.types import Task
from btp.training import Example, completion_text, make_accelerator, save_model, train


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
    """Training examples from the buffer: drawn by priority (``btp.replay.PriorityConfig``), or with
    ``data="all"`` every record once per epoch in a shuffled order (plain SFT on everything).

    Process ``rank`` of ``world`` draws with its own seed (replay) or takes every world-th record of
    the shared epoch order (all). ``stats()`` gives the mean P2Value and pass rate of the last batch;
    ``state_dict()`` / ``load_state_dict()`` make draws resume exactly from a checkpoint.
    """

    def __init__(self, buffer: Buffer, cfg, tokenizer, seed: int, *, data: str = "replay", rank: int = 0,
                 world: int = 1):
        self.buffer, self.cfg, self.tok, self.data = buffer, cfg, tokenizer, data
        self.seed, self.rank, self.world = seed, rank, world
        self.rng = np.random.default_rng([seed, rank] if world > 1 else seed)
        self._prompts: dict[str, str] = {}
        self._tasks: dict[str, Task] = {}
        self.last_batch = None
        self.epoch, self.pos = 0, 0
        self._order: np.ndarray | None = None
        ids, pv = buffer.priorities(dataclasses.replace(cfg, mode="proportional"))
        if len(ids) == 0:
            raise BtpError(f"buffer {buffer.storage.path} is empty: nothing to train on")
        sort = np.argsort(ids)
        self._ids, self._p2v = ids[sort], pv[sort]

    def next(self, n: int) -> list[Example]:
        if self.data == "all":
            batch = self._next_in_order(n)
        else:
            batch = self.buffer.sample(n, self.cfg, self.rng)
        self.last_batch = batch
        return [Example(self._prompt(r.task_id), self._completion(r.task_id, r.program), float(w))
                for r, w in zip(batch.records, batch.weights)]

    def _next_in_order(self, n: int):
        from btp.replay import Batch

        picked = []
        while len(picked) < n:
            if self._order is None:
                self._order = self._epoch_order()
            take = self._order[self.pos:self.pos + n - len(picked)]
            picked.extend(take.tolist())
            self.pos += len(take)
            if self.pos >= len(self._order):
                self.epoch, self.pos, self._order = self.epoch + 1, 0, None
        ids = np.array(picked, dtype=np.int64)
        return Batch(records=self.buffer.get(ids), ids=ids, probs=np.full(n, 1.0 / len(self._ids)), weights=np.ones(n))

    def stats(self) -> dict[str, float]:
        """Mean P2Value and mean pass rate of the last batch drawn."""
        b = self.last_batch
        p2v = self._p2v[np.searchsorted(self._ids, b.ids)]
        return {"batch_p2value": float(np.mean(p2v)), "batch_pass_rate": float(np.mean([r.pass_rate for r in b.records]))}

    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state, "epoch": self.epoch, "pos": self.pos}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.epoch, self.pos, self._order = state["epoch"], state["pos"], None

    def _epoch_order(self) -> np.ndarray:
        """This process's share of epoch ``self.epoch``'s shuffled order of all record ids."""
        perm = np.random.default_rng([self.seed, self.epoch]).permutation(self._ids)
        return perm[self.rank::self.world] if len(perm) >= self.world else perm

    def _completion(self, task_id: str, program: str) -> str:
        return completion_text(answer_code(self._task(task_id), program))

    def _task(self, task_id: str) -> Task:
        if task_id not in self._tasks:
            self._tasks[task_id] = self.buffer.get_task(task_id)
        return self._tasks[task_id]

    def _prompt(self, task_id: str) -> str:
        if task_id not in self._prompts:
            self._prompts[task_id] = render_prompt(self._task(task_id), self.tok)
        return self._prompts[task_id]


class Pipeline:
    def __init__(self, cfg: RunConfig, console):
        self.cfg, self.console = cfg, console
        self.dir = Path(cfg.run_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._check_config()
        self.state = RunState(self.dir / "state.json")
        self.metrics_path = self.dir / "metrics.jsonl"
        runlog.repair(self.metrics_path)

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
        runlog.append(self.metrics_path, row)

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
        self._init_buffer()
        with Buffer(self.dir / "buffer.sqlite") as buffer, Executor(cfg.execution) as executor:
            buffer.add_tasks(train_tasks)
            if cfg.eval.before:
                self.stage_eval(0, evals, executor)
            for r in range(1, cfg.rounds + 1):
                self.stage_sample(r, train_tasks, buffer, executor)
                self.stage_train(r, buffer)
                self.stage_eval(r, evals, executor)
        return self.table()

    def _init_buffer(self) -> None:
        """Copy ``init_buffer`` in once, with SQLite's online backup (consistent even mid-write)."""
        src, dst = self.cfg.init_buffer, self.dir / "buffer.sqlite"
        if not src or dst.exists():
            return
        if not Path(src).is_file():
            raise BtpError(f"init_buffer {src} does not exist")
        tmp = dst.with_suffix(".sqlite.part")
        tmp.unlink(missing_ok=True)
        with sqlite3.connect(f"file:{Path(src).resolve()}?mode=ro", uri=True) as a, sqlite3.connect(tmp) as b:
            a.backup(b)
        os.replace(tmp, dst)

    def stage_sample(self, r: int, tasks: list[Task], buffer: Buffer, executor: Executor) -> None:
        stage = f"sample:{r}"
        if stage in self.state:
            return
        writer = self.cfg.model.teacher or self.model_at(r - 1)
        todo = [t for t in tasks if t.task_id not in buffer.sampled(r, writer)]
        if todo:
            model, tok = self.load(writer)
            s = self.cfg.sampling
            sampler = HFSampler(model, tok, writer, max_new_tokens=s.max_new_tokens, batch_size=s.batch_size,
                                method=s.method, temperature=s.temperature, top_p=s.top_p, seed=self.cfg.seed * 1000 + r)
            by_id = {t.task_id: t for t in todo}
            t0, n_prog, n_pass, n_tok = time.time(), 0, 0, 0
            with progress_bar(self.console) as bar:
                job = bar.add_task(f"round {r}: sample k={s.k}, test, store", total=len(todo), info="")
                for samples in sampler.sample(todo, s.k):
                    records = store_samples(buffer, executor, by_id[samples[0].task_id], samples, r, writer)
                    n_prog += len(records)
                    n_tok += sum(x.n_generated for x in samples)
                    n_pass += sum(rec.pass_rate == 1.0 for rec in records)
                    dt = max(1e-9, time.time() - t0)
                    bar.update(job, advance=1, info=f"{n_prog / dt:.2f} programs/s  {n_tok / dt:.0f} tok/s")
            self.log_metric({"stage": "sample", "round": r, "model": writer, "tasks": len(todo),
                             "programs": n_prog, "all_pass": n_pass, "seconds": round(time.time() - t0, 1)})
            del model, sampler
            gc.collect()
        self.state.mark(stage)

    def stage_train(self, r: int, buffer: Buffer) -> None:
        """Fine-tune the round's model; resumes from ``checkpoints/round-N.train`` after a kill."""
        stage = f"train:{r}"
        if stage in self.state:
            return
        model, tok = self.load(self.model_at(r - 1))
        tcfg = self.cfg.train
        acc = make_accelerator(model, cpu=self.cfg.model.device == "cpu")
        source = BufferSource(buffer, self.cfg.replay, tok, seed=self.cfg.seed * 1000 + r, data=tcfg.data,
                              rank=acc.process_index, world=acc.num_processes)
        ckpt = self.dir / "checkpoints" / f"round-{r}.train"
        t0 = time.time()
        result = train(model, tok, source, tcfg, checkpoint_dir=ckpt, log_dir=self.dir / "logs" / f"round-{r}",
                       on_step=lambda row: self.log_metric({"stage": "train", "round": r, **row}),
                       console=self.console, description=f"round {r}: train", accelerator=acc)
        save_model(result.model, tok, self.dir / "checkpoints" / f"round-{r}", merge=tcfg.lora_merge)
        self.log_metric({"stage": "train_done", "round": r, "resumed_from": result.resumed_from,
                         "seconds": round(time.time() - t0, 1)})
        del model, result
        gc.collect()
        self.state.mark(stage)
        shutil.rmtree(ckpt, ignore_errors=True)

    def stage_eval(self, r: int, evals: list[tuple[str, list[Task]]], executor: Executor) -> None:
        stage = f"eval:{r}"
        if stage in self.state:
            return
        name = self.model_at(r)
        model, tok = self.load(name)
        e = self.cfg.eval
        sampler = HFSampler(model, tok, name, max_new_tokens=e.max_new_tokens, batch_size=e.batch_size,
                            method="beam" if e.n == 1 else "sample", temperature=e.temperature, top_p=e.top_p,
                            seed=self.cfg.seed * 1000 + r)
        programs = self.dir / f"eval-round-{r}.jsonl"  # every evaluated program, to audit the numbers
        programs.unlink(missing_ok=True)
        for label, tasks in evals:
            t0 = time.time()
            with progress_bar(self.console) as bar:
                job = bar.add_task(f"eval round {r}: {label}", total=len(tasks), info="")
                by_difficulty = "difficulty" if any("difficulty" in t.meta for t in tasks) else None
                summary, per_task = evaluate(sampler, executor, tasks, n=e.n, ks=e.ks, group_by=by_difficulty,
                                             progress=lambda n: bar.update(job, advance=n))
            with open(programs, "a") as f:
                for row in program_rows(per_task, with_raw=True, dataset=label):
                    f.write(json.dumps(row) + "\n")
            self.log_metric({"stage": "eval", "round": r, "dataset": label, "model": name,
                             "seconds": round(time.time() - t0, 1), **summary})
        del model, sampler
        gc.collect()
        self.state.mark(stage)

    def table(self) -> list[dict]:
        rows = [r for r in runlog.read(self.metrics_path) if r.get("stage") == "eval"]
        latest = {(r["round"], r["dataset"]): r for r in rows}  # a re-run stage logs again; the last counts
        return sorted(latest.values(), key=lambda r: (r["dataset"], r["round"]))
