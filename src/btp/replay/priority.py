"""Priority configuration and the P2Value formula of the paper.

``P2Value = alpha * P + (1 - alpha) * pass_rate``. A raw sequence probability exp(sum log-prob) is
~0 for any real program, so the default P is the length-normalized exp(mean token log-prob).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from btp.errors import BtpError

MODES = ("proportional", "rank", "uniform", "pass_only")
P_SOURCES = ("exp_mean", "sum", "rank")


@dataclass(frozen=True)
class PriorityConfig:
    """How a batch is drawn from the buffer.

    alpha:    weight of P in P2Value (1 - alpha goes to the pass rate), in [0, 1].
    mode:     "proportional" (p_i = P2Value), "rank" (p_i = 1/rank by P2Value, rank 1 = highest),
              "uniform" (baseline), "pass_only" (uniform over records with pass_rate == 1: the
              rejection-sampling fine-tuning baseline).
    exponent: a in p_i^a / sum_k p_k^a (ignored by uniform and pass_only).
    replace:  draw with replacement; without it, a batch is a successive sample (each next item
              drawn with probability proportional to its weight among those not yet drawn).
    beta:     importance-sampling exponent; weights (N*P(i))^-beta normalized by the batch max.
              0 gives all-ones weights.
    per_task: draw a task uniformly first, then a record within it by ``mode``.
    p_source: which P goes into P2Value: "exp_mean" = exp(mean token log-prob) (default),
              "sum" = exp(sum log-prob), "rank" = 1 / (1 + beam_rank), which maps the best beam
              to 1 and every rank into (0, 1].
    p_model:  take log-probs re-scored under this model (``Buffer.set_p``); None = the writer's.
              Records without a score under p_model use the writer's log-probs.
    """

    alpha: float = 0.5
    mode: str = "proportional"
    exponent: float = 1.0
    replace: bool = True
    beta: float = 0.0
    per_task: bool = False
    p_source: str = "exp_mean"
    p_model: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise BtpError(f"unknown priority mode {self.mode!r} (expected one of {', '.join(MODES)})")
        if self.p_source not in P_SOURCES:
            raise BtpError(f"unknown p_source {self.p_source!r} (expected one of {', '.join(P_SOURCES)})")
        if not 0.0 <= self.alpha <= 1.0:
            raise BtpError(f"alpha must be in [0, 1], got {self.alpha}")
        if not (self.exponent >= 0.0 and np.isfinite(self.exponent)):
            raise BtpError(f"exponent must be a finite number >= 0, got {self.exponent}")
        if not (self.beta >= 0.0 and np.isfinite(self.beta)):
            raise BtpError(f"beta must be a finite number >= 0, got {self.beta}")


def p2value(p, pass_rate, alpha: float) -> np.ndarray:
    """P2Value = alpha * P + (1 - alpha) * pass_rate, elementwise (arrays or scalars)."""
    p = np.asarray(p, dtype=np.float64)
    r = np.asarray(pass_rate, dtype=np.float64)
    return alpha * p + (1.0 - alpha) * r


def p_values(logprob_sum: np.ndarray, n_tokens: np.ndarray, beam_rank: np.ndarray, source: str) -> np.ndarray:
    """P per record from its log-probs or beam rank. Missing log-probs (NaN) give P = 0."""
    if source == "rank":
        return 1.0 / (1.0 + np.asarray(beam_rank, dtype=np.float64))
    lp = np.asarray(logprob_sum, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        if source == "exp_mean":
            nt = np.asarray(n_tokens, dtype=np.float64)
            x = np.where(nt > 0, lp / np.where(nt > 0, nt, 1.0), np.nan)
        elif source == "sum":
            x = lp
        else:
            raise BtpError(f"unknown p_source {source!r}")
        p = np.exp(np.minimum(x, 0.0))
    return np.where(np.isnan(p), 0.0, p)
