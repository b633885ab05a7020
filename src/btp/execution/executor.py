"""Executor: the execution stage's public entry point (warm sandboxed workers + result cache)."""

from __future__ import annotations

import hashlib
import json
import os
import queue
import threading
from collections import OrderedDict
from typing import Callable, Iterable, Sequence

from btp.execution.compare import resolve_profile, verdict
from btp.execution.config import ExecConfig
from btp.execution.types import Outcome, Result
from btp.execution.worker import Worker, WorkerDied
from btp.tasks.types import Task

Progress = Callable[[int], None]


def normalize_program(program: str) -> str:
    """The program's text up to what cannot change how it runs: line ends as Python's compiler
    reads them (CRLF and CR are LF) and trailing blanks at the very end. Nothing else: an indent,
    a space after a backslash or inside a string literal, a U+2028 do change it (a broken
    program once shared its key, and so its verdict, with a correct one)."""
    text = program.replace("\r\n", "\n").replace("\r", "\n").rstrip(" \t\n")
    # after a final backslash the blanks matter ("x = 1 \\\n" fails to compile, "x = 1 \\\n  " does not)
    return program if text.endswith("\\") else text


def cache_key(task: Task, program: str, cfg: ExecConfig) -> str:
    """Everything the results depend on: program, setup, entry point, tests and limits (the
    comparison profile is the Executor's own, fixed for its cache)."""
    parts = [normalize_program(program), task.setup or "", task.entry_point or "", task.tests_json(),
             json.dumps([cfg.timeout, cfg.wall_factor, cfg.memory_mb, cfg.disk_mb, cfg.fsize_mb,
                         cfg.max_output_mb, cfg.max_processes, list(cfg.preload)])]
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


class Executor:
    """Runs programs against task tests in sandboxed warm workers. Use as a context manager.

    ``run(task, programs)`` and ``run_batch(pairs)`` return one Result per program, in order.
    Identical programs (after normalization) for the same tests run once.
    """

    CACHE_ENTRIES = 200_000  # results kept (least recently used go first): ~100 B + 8 B per test each

    def __init__(self, config: ExecConfig | None = None) -> None:
        self.config = config or ExecConfig()
        self._checker = resolve_profile(self.config.profile, self.config.float_tol)
        self._workers: list[Worker] = []
        # key -> Result: verdicts, not raw outputs (a stdio program's raw output may be 64 MiB)
        self._cache: OrderedDict[str, Result] = OrderedDict()
        self.stats = {"run": 0, "cached": 0}  # programs executed / answered without executing

    def __enter__(self) -> "Executor":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        """Start the workers (done lazily by the first run otherwise)."""
        new: list[Worker] = []
        try:
            cpus = sorted(os.sched_getaffinity(0)) if self.config.pin_cpus else []
            while len(self._workers) + len(new) < self.config.workers:
                i = len(self._workers) + len(new)
                new.append(Worker(self.config, start=False, cpu=cpus[i % len(cpus)] if cpus else None))
                new[-1].spawn()
            for step in (Worker.handshake, Worker.wait_ready):  # all workers boot in parallel
                for w in new:
                    step(w)
            self._workers += new
        except BaseException:
            for w in new:
                w.close()
            self.close()
            raise

    def close(self) -> None:
        for w in self._workers:
            w.close()
        self._workers = []

    def run(self, task: Task, programs: Sequence[str], progress: Progress | None = None) -> list[Result]:
        return self.run_batch([(task, p) for p in programs], progress=progress)

    def run_batch(self, pairs: Iterable[tuple[Task, str]], progress: Progress | None = None) -> list[Result]:
        """Run every (task, program); parallel over workers; ``progress(n)`` as results arrive."""
        pairs = list(pairs)
        keys = [cache_key(t, p, self.config) for t, p in pairs]
        done: dict[str, Result] = {}
        todo: dict[str, tuple[Task, str]] = {}
        for key, pair in zip(keys, pairs):
            if self.config.cache and key in self._cache:
                done[key] = self._cache[key]
                self._cache.move_to_end(key)
            elif key not in todo:  # run the text the key names: a program may read its own
                todo[key] = (pair[0], normalize_program(pair[1]))
        waiting: dict[str, list[int]] = {}
        for i, key in enumerate(keys):
            waiting.setdefault(key, []).append(i)
        self.stats["run"] += len(todo)
        self.stats["cached"] += len(pairs) - len(todo)
        if progress and done:
            progress(sum(len(waiting[k]) for k in done))
        if todo:
            self.start()
            for key, value in self._run_parallel(todo):
                done[key] = self._result(todo[key][0], value)  # the raw outputs go here
                if self.config.cache:
                    self._cache[key] = done[key]
                    if len(self._cache) > self.CACHE_ENTRIES:
                        self._cache.popitem(last=False)
                if progress:
                    progress(len(waiting[key]))
        return [done[key] for key in keys]

    def _result(self, task: Task, value: tuple[list, float, bool]) -> Result:
        results, seconds, flaky = value
        outcomes = tuple(verdict(t, r, self._checker) for t, r in zip(task.tests, results))
        return Result(outcomes=outcomes, seconds=seconds, flaky=flaky)

    def _run_parallel(self, todo: dict[str, tuple[Task, str]]):
        jobs: queue.Queue = queue.Queue()
        for item in todo.items():
            jobs.put(item)
        done: queue.Queue = queue.Queue()

        def serve(worker: Worker) -> None:
            while True:
                try:
                    key, (task, program) = jobs.get_nowait()
                except queue.Empty:
                    return
                try:
                    done.put((key, self._run_one(worker, task, program)))
                except BaseException as e:  # noqa: BLE001 - surfaced in the caller's thread
                    done.put((key, e))

        threads = [threading.Thread(target=serve, args=(w,), daemon=True) for w in self._workers]
        for t in threads:
            t.start()
        try:
            for _ in range(len(todo)):
                key, value = done.get()
                if isinstance(value, BaseException):
                    raise value
                yield key, value
        finally:  # also on an error, Ctrl-C or a progress callback that raised: no thread may
            while True:  # go on using a worker after this call (Worker.run is not thread-safe)
                try:
                    jobs.get_nowait()
                except queue.Empty:
                    break
            for t in threads:  # each finishes the program in hand (bounded by its wall limit)
                t.join()

    def _run_one(self, worker: Worker, task: Task, program: str) -> tuple[list, float, bool]:
        first = self._attempt(worker, task, program)
        if not (self.config.retry_timeouts and any(r == ["timeout"] for r in first[0])):
            return first
        second = self._attempt(worker, task, program)
        return second[0], second[1], second[0] != first[0]

    def _attempt(self, worker: Worker, task: Task, program: str) -> tuple[list, float, bool]:
        n = len(task.tests)
        try:
            resp = worker.run(task, program)
        except WorkerDied:
            return [[Outcome.ERROR.value]] * n, 0.0, False
        raw = resp.get("raw")
        if not isinstance(raw, list) or len(raw) != n or not all(isinstance(r, list) and r for r in raw):
            return [[Outcome.ERROR.value]] * n, 0.0, False
        return raw, float(resp.get("seconds", 0.0)), False
