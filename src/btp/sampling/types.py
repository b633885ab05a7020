"""What a sampler returns, and the interface every backend implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Protocol, Sequence

from btp.tasks.types import Task


@dataclass(frozen=True)
class Sample:
    """One program for one task.

    ``logprob_sum`` and ``n_tokens`` cover the tokens the model generated that make up the stored
    program (after stop trimming and code extraction); text copied from the prompt (imports, a
    signature the model did not repeat) is not scored. ``None`` when the backend gives no
    log-probabilities.
    """

    task_id: str
    program: str
    logprob_sum: float | None
    n_tokens: int | None
    model: str
    raw: str  # the model's full output text
    beam_rank: int = 0
    n_generated: int = 0  # tokens the model generated for this beam (throughput accounting)

    @property
    def logprob_mean(self) -> float | None:
        if self.logprob_sum is None or not self.n_tokens:
            return None
        return self.logprob_sum / self.n_tokens


class Sampler(Protocol):
    name: str

    def sample(self, tasks: Sequence[Task], k: int) -> Iterator[list[Sample]]:
        """Yield, per task, its programs best first (at most ``k``; tasks may come in completion order)."""
        ...
