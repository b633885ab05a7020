"""Chi-square goodness of fit without scipy (Wilson-Hilferty quantile), and brute-force references."""

from __future__ import annotations

import itertools
import math

import numpy as np

Z_1E4 = 3.719  # standard normal quantile for a 1e-4 false-alarm rate


def chi2_ok(observed: np.ndarray, expected_p: np.ndarray) -> tuple[bool, float, float]:
    """Pearson chi-square of counts against probabilities; (passes at 1e-4, statistic, threshold)."""
    observed = np.asarray(observed, dtype=float)
    n = observed.sum()
    keep = expected_p > 0
    assert observed[~keep].sum() == 0, "drew an item whose probability is 0"
    e = expected_p[keep] * n
    stat = float(((observed[keep] - e) ** 2 / e).sum())
    k = int(keep.sum()) - 1
    if k <= 0:
        return True, stat, 0.0
    thr = k * (1 - 2 / (9 * k) + Z_1E4 * math.sqrt(2 / (9 * k))) ** 3
    return stat <= thr, stat, thr


def brute_rank_probs(prio: list[float], a: float) -> np.ndarray:
    """Average (1/rank)^a over every tie-break order (the documented tie rule), by enumeration.

    Orders consistent with the priorities are the products of the permutations of each tie group,
    so each group is enumerated on its own (the average is the same as over all such orders).
    """
    n = len(prio)
    total = np.zeros(n)
    start = 1
    for v in sorted(set(prio), reverse=True):
        group = [i for i in range(n) if prio[i] == v]
        perms = list(itertools.permutations(group))
        for o in perms:
            for r, i in enumerate(o, start=start):
                total[i] += r**-a / len(perms)
        start += len(group)
    return total / total.sum()


def brute_pairs(p: np.ndarray) -> dict[tuple[int, int], float]:
    """Law of the first two draws of a successive sample: p_i * p_j / (1 - p_i)."""
    return {(i, j): p[i] * p[j] / (1 - p[i]) for i in range(p.size) for j in range(p.size) if i != j and p[i] < 1}
