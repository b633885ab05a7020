"""Typed results of running one program against one task's tests."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Outcome(str, Enum):
    """Verdict of one test. Values are the strings used in result JSONL."""

    PASS = "pass"
    FAIL = "fail"  # ran, wrong answer / assertion failed
    ERROR = "error"  # exception, crash, syntax error, missing entry point
    TIMEOUT = "timeout"  # CPU-time or wall-clock limit
    MEMORY = "memory"  # memory limit
    SKIPPED = "skipped"  # not run because the program died earlier


@dataclass(frozen=True)
class Result:
    """Per-test outcomes of one program; ``seconds`` is wall time spent on it.

    ``flaky`` is True when a timed-out program was retried and the retry's verdicts differed
    (``ExecConfig.retry_timeouts``); the retry's outcomes are the ones kept.
    """

    outcomes: tuple[Outcome, ...]
    seconds: float = 0.0
    flaky: bool = False

    @property
    def passed(self) -> int:
        return sum(o is Outcome.PASS for o in self.outcomes)

    @property
    def total(self) -> int:
        return len(self.outcomes)

    @property
    def pass_rate(self) -> float:
        return self.passed / self.total if self.outcomes else 0.0

    def to_json(self, task_id: str, program_id: str) -> dict:
        out = {
            "task_id": task_id,
            "program_id": program_id,
            "passed": self.passed,
            "total": self.total,
            "pass_rate": self.pass_rate,
            "outcomes": [o.value for o in self.outcomes],
            "seconds": round(self.seconds, 6),
        }
        if self.flaky:
            out["flaky"] = True  # only present when set, so existing consumers see no change
        return out
