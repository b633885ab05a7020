import numpy as np
import pytest

from btp.errors import BtpError
from btp.replay import (PassOnlySampler, ProportionalSampler, RankSampler, UniformSampler, is_weights, p2value,
                        rank_weights)
from btp.replay.weightindex import WeightIndex

from replay_stats_helpers import brute_pairs, brute_rank_probs, chi2_ok

PRIO = np.array([0.9, 0.1, 0.5, 0.5, 0.0, 0.3, 0.5, 1.0])


def test_p2value_formula():
    assert np.allclose(p2value([0.2, 1.0], [1.0, 0.0], 0.25), [0.25 * 0.2 + 0.75, 0.25])


@pytest.mark.parametrize("sampler,expected", [
    (ProportionalSampler(1.0), PRIO / PRIO.sum()),
    (ProportionalSampler(2.0), PRIO**2 / (PRIO**2).sum()),
    (RankSampler(1.0), brute_rank_probs(list(PRIO), 1.0)),
    (RankSampler(0.7), brute_rank_probs(list(PRIO), 0.7)),
    (UniformSampler(), np.full(PRIO.size, 1 / PRIO.size)),
    (PassOnlySampler(), np.array([0, 0, 0, 0, 0, 0, 0, 1.0])),
])
def test_frequencies_match_formula(sampler, expected):
    rng = np.random.default_rng(1)
    assert np.allclose(sampler.probs(PRIO), expected)
    idx, probs = sampler.sample(PRIO, 200_000, rng)
    assert np.allclose(probs, expected[idx])
    ok, stat, thr = chi2_ok(np.bincount(idx, minlength=PRIO.size), expected)
    assert ok, (stat, thr)


def test_rank_ties_share_mass_and_do_not_depend_on_order():
    w = rank_weights([0.5, 0.9, 0.5, 0.5])
    assert w[1] == 1.0 and np.allclose(w[[0, 2, 3]], (1 / 2 + 1 / 3 + 1 / 4) / 3)
    perm = np.array([3, 1, 0, 2])
    assert np.allclose(rank_weights(np.array([0.5, 0.9, 0.5, 0.5])[perm]), w[perm])


def test_without_replacement_matches_successive_sampling_law():
    rng = np.random.default_rng(2)
    p = PRIO / PRIO.sum()
    counts: dict = {}
    trials = 60_000
    for _ in range(trials):
        i, _ = ProportionalSampler().sample(PRIO, 2, rng, replace=False)
        counts[tuple(i)] = counts.get(tuple(i), 0) + 1
    ref = brute_pairs(p)
    keys = sorted(ref)
    obs = np.array([counts.pop(k, 0) for k in keys])
    assert not counts, f"drew pairs the law forbids: {counts}"
    ok, stat, thr = chi2_ok(obs, np.array([ref[k] for k in keys]))
    assert ok, (stat, thr)


def test_without_replacement_rejects_too_many():
    with pytest.raises(BtpError, match="without replacement"):
        ProportionalSampler().sample(PRIO, 8, np.random.default_rng(0), replace=False)


def test_bad_priorities_are_refused():
    with pytest.raises(BtpError, match=">= 0"):
        ProportionalSampler().sample([0.1, -1.0], 1, np.random.default_rng(0))
    with pytest.raises(BtpError, match="NaN"):
        RankSampler().probs([np.nan, 1.0])


def test_is_weights_normalized_by_max():
    w = is_weights(np.array([0.5, 0.25, 0.125]), 4, 1.0)
    assert np.allclose(w, [0.25, 0.5, 1.0])
    assert np.all(is_weights(np.array([0.5, 0.1]), 2, 0.0) == 1.0)


@pytest.mark.parametrize("n", [1, 15, 17, 300, 5000])
def test_weight_index_matches_cumsum_and_updates(n):
    rng = np.random.default_rng(n)
    w = rng.random(n) * (rng.random(n) > 0.3)
    w[0] = 1.0
    t = WeightIndex(w[: n // 2])
    t.append(w[n // 2 :])
    pos = rng.choice(n, size=min(n, 40), replace=False)
    w[pos] = rng.random(pos.size)
    t.update(pos, w[pos])
    assert np.isclose(t.total, w.sum())
    idx, probs = t.draw(100_000, rng)
    assert np.allclose(probs, w[idx] / w.sum())
    ok, stat, thr = chi2_ok(np.bincount(idx, minlength=n), w / w.sum())
    assert ok, (stat, thr)
