"""One experience record: the paper's Eq. 5 tuple (task, tests, program, P, pass rate) plus provenance.

``logprob_sum`` / ``n_tokens`` describe the stored program's tokens under the model that wrote it
(``None`` when a backend gives no log-probabilities: recorded as missing, never invented).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field


def program_hash(program: str) -> str:
    """Hash of a program with trailing whitespace per line and blank edges removed."""
    norm = "\n".join(line.rstrip() for line in program.strip().splitlines())
    return hashlib.sha256(norm.encode()).hexdigest()[:32]


@dataclass
class Record:
    task_id: str
    program: str
    pass_rate: float
    passed: int = 0
    total: int = 0
    outcomes: tuple[str, ...] = ()
    model: str = ""
    round: int = 0
    logprob_sum: float | None = None
    n_tokens: int | None = None
    count: int = 1  # identical programs among one task's beams are stored once with a count
    beam_rank: int = 0  # 0 = the best beam
    id: int | None = None  # assigned by storage
    extra: dict = field(default_factory=dict)

    @property
    def logprob_mean(self) -> float | None:
        if self.logprob_sum is None or not self.n_tokens:
            return None
        return self.logprob_sum / self.n_tokens

    @property
    def prob(self) -> float | None:
        """Default P: exp(mean token log-prob), the length-normalized sequence probability."""
        m = self.logprob_mean
        return None if m is None else math.exp(m)

    @property
    def hash(self) -> str:
        return program_hash(self.program)
