"""Index samplers over plain numpy arrays (torchrl-style: storage, index sampler and writer are apart).

Each sampler turns priorities into non-negative weights; ``sample`` draws indices with probability
``w_i / sum_k w_k``. Returned ``probs`` are those single-draw probabilities, also for draws without
replacement (which are successive samples: each next index is drawn proportionally to its weight among
the ones not yet drawn, using exponential keys, Efraimidis-Spirakis).
"""

from __future__ import annotations

import numpy as np

from btp.errors import BtpError


def _check(priorities) -> np.ndarray:
    p = np.asarray(priorities, dtype=np.float64)
    if p.ndim != 1:
        raise BtpError(f"priorities must be a 1-d array, got shape {p.shape}")
    if p.size and not np.all(np.isfinite(p)):
        raise BtpError("priorities contain NaN or infinity")
    if p.size and p.min() < 0:
        raise BtpError(f"priorities must be >= 0, got {p.min()}")
    return p


def rank_weights(priorities, exponent: float = 1.0) -> np.ndarray:
    """Weights (1/rank)^a with rank 1 = highest priority.

    Ties: the k items tied at ranks r..r+k-1 each get the mean of (1/j)^a over those ranks, i.e. the
    expected weight under a random tie-break. The distribution then does not depend on storage order
    and a tie group keeps the mass it would have under any tie-break.
    """
    p = _check(priorities)
    n = p.size
    if n == 0:
        return p
    order = np.argsort(-p, kind="stable")
    s = p[order]
    prefix = np.concatenate(([0.0], np.cumsum(np.arange(1, n + 1, dtype=np.float64) ** -exponent)))
    starts = np.flatnonzero(np.concatenate(([True], s[1:] != s[:-1])))
    ends = np.concatenate((starts[1:], [n]))
    means = (prefix[ends] - prefix[starts]) / (ends - starts)
    w = np.empty(n)
    w[order] = np.repeat(means, ends - starts)
    return w


def is_weights(probs: np.ndarray, n_items: int, beta: float) -> np.ndarray:
    """Importance-sampling weights (N * P(i))^-beta divided by their maximum (so all are <= 1)."""
    probs = np.asarray(probs, dtype=np.float64)
    if beta == 0.0 or probs.size == 0:
        return np.ones(probs.size)
    w = (n_items * probs) ** -beta
    return w / w.max()


def draw(weights: np.ndarray, n: int, rng: np.random.Generator, replace: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Draw n indices with probability weights/sum(weights); returns (indices, single-draw probs)."""
    w = np.asarray(weights, dtype=np.float64)
    if n < 0:
        raise BtpError(f"batch size must be >= 0, got {n}")
    positive = int(np.count_nonzero(w))
    if n and positive == 0:
        raise BtpError("nothing to sample: every item has zero weight")
    if not replace and n > positive:
        raise BtpError(f"cannot draw {n} items without replacement from {positive} with non-zero weight")
    if replace:
        c = np.cumsum(w)
        total = c[-1] if c.size else 0.0
        idx = np.searchsorted(c, rng.random(n) * total, side="right")
        last = int(np.flatnonzero(w)[-1]) if n else 0
        idx = np.minimum(idx, last)
    else:
        total = w.sum()
        with np.errstate(divide="ignore"):
            keys = rng.exponential(size=w.size) / w
        part = np.argpartition(keys, n - 1)[:n] if n else np.empty(0, dtype=np.int64)
        idx = part[np.argsort(keys[part], kind="stable")]
    return idx.astype(np.int64), w[idx] / total


class IndexSampler:
    """Base: subclasses define ``weights(priorities)``; ``sample`` draws from them."""

    def weights(self, priorities) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def probs(self, priorities) -> np.ndarray:
        """The full single-draw distribution (for tests and stats)."""
        w = self.weights(priorities)
        return w / w.sum()

    def sample(self, priorities, n: int, rng: np.random.Generator, replace: bool = True) -> tuple[np.ndarray, np.ndarray]:
        return draw(self.weights(priorities), n, rng, replace)


class ProportionalSampler(IndexSampler):
    """p_i^a / sum_k p_k^a with p_i the priority (P2Value)."""

    def __init__(self, exponent: float = 1.0):
        self.exponent = float(exponent)

    def weights(self, priorities) -> np.ndarray:
        p = _check(priorities)
        return p**self.exponent if self.exponent != 1.0 else p.copy()


class RankSampler(IndexSampler):
    """(1/rank_i)^a / sum_k (1/rank_k)^a, rank 1 = highest priority; ties as in ``rank_weights``."""

    def __init__(self, exponent: float = 1.0):
        self.exponent = float(exponent)

    def weights(self, priorities) -> np.ndarray:
        return rank_weights(priorities, self.exponent)


class UniformSampler(IndexSampler):
    """Every item equally likely (baseline); priorities only give the count."""

    def weights(self, priorities) -> np.ndarray:
        return np.ones(_check(priorities).size)


class PassOnlySampler(IndexSampler):
    """Uniform over items whose value (pass rate) is >= threshold: rejection-sampling fine-tuning."""

    def __init__(self, threshold: float = 1.0):
        self.threshold = float(threshold)

    def weights(self, pass_rates) -> np.ndarray:
        return (_check(pass_rates) >= self.threshold).astype(np.float64)
