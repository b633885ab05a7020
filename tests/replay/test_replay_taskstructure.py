"""Per-task structure updated in place: same distribution as a fresh build, draws match the formula."""

import numpy as np
import pytest

from btp.replay.taskstructure import TaskStructure

from replay_stats_helpers import brute_rank_probs, chi2_ok


def reference(mode: str, prio: np.ndarray, tasks: np.ndarray, a: float) -> np.ndarray:
    """Task uniformly among tasks with mass, then the mode's formula within the task (brute force)."""
    out = np.zeros(prio.size)
    groups = [np.flatnonzero(tasks == t) for t in np.unique(tasks)]
    dists = []
    for g in groups:
        p = prio[g]
        if mode == "rank":
            d = brute_rank_probs(list(p), a)
        else:
            w = p**a if mode == "proportional" else (p >= 1.0).astype(float) if mode == "pass_only" else np.ones(p.size)
            d = w / w.sum() if w.sum() > 0 else w
        dists.append((g, d))
    active = [(g, d) for g, d in dists if d.sum() > 0]
    for g, d in active:
        out[g] = d / len(active)
    return out


@pytest.mark.parametrize("mode", ["rank", "proportional", "pass_only", "uniform"])
def test_updates_and_appends_match_fresh_build_and_formula(mode):
    rng = np.random.default_rng(4)
    values = np.array([0.0, 0.25, 0.5, 1.0])  # coarse: ties within tasks, some pass_rate == 1
    prio, tasks = rng.choice(values, 30), rng.integers(0, 6, 30)
    s = TaskStructure(mode, prio, tasks, 0.7)
    s.draw(1, rng)  # build, then update in place
    for _ in range(20):
        pos = rng.choice(prio.size, 4)  # repeats: the last value wins
        new = rng.choice(values, 4)
        s.set(pos, new)
        for p, v in zip(pos, new):
            prio[p] = v
    add_p, add_t = rng.choice(values, 5), np.array([0, 6, 6, 2, 7])
    s.append(add_p, add_t)
    prio, tasks = np.concatenate((prio, add_p)), np.concatenate((tasks, add_t))
    s.draw(1, rng)
    s.set(np.array([1, 32]), np.array([1.0, 0.25]))
    prio[[1, 32]] = [1.0, 0.25]
    expected = reference(mode, prio, tasks, 0.7)
    assert np.allclose(s.probs(), expected)
    assert np.allclose(TaskStructure(mode, prio, tasks, 0.7).probs(), expected)
    idx, probs = s.draw(200_000, rng)
    assert np.allclose(probs, expected[idx])
    ok, stat, thr = chi2_ok(np.bincount(idx, minlength=prio.size), expected)
    assert ok, (stat, thr)


def test_rank_update_touches_only_its_task():
    rng = np.random.default_rng(0)
    n = 50_000
    s = TaskStructure("rank", rng.random(n), np.arange(n) // 50, 1.0)
    s.draw(1, rng)
    before = s.tree.weights.copy()
    s.set(np.array([7, 12_345]), np.array([0.99, 0.01]))
    changed = np.flatnonzero(s.tree.weights != before)
    assert changed.size > 0 and set(s.group_of[changed]) <= {7 // 50, 12_345 // 50}
