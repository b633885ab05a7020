"""BlockOrder (the rank sampler's sorted order) against a plain sorted array, and rank draws after updates."""

import numpy as np
import pytest

from btp.replay.blockorder import BlockOrder
from btp.replay.structures import RankStructure

from replay_stats_helpers import brute_rank_probs, chi2_ok


def _check(bo: BlockOrder, keys: np.ndarray, rng) -> None:
    s = np.sort(keys)
    assert np.array_equal(bo.keys(), keys)
    k, items = bo.select(np.arange(keys.size))
    assert np.array_equal(k, s) and np.array_equal(keys[items], k)
    assert sorted(items.tolist()) == list(range(keys.size))
    q = np.concatenate((s, rng.random(10) * 4 - 2))
    assert np.array_equal(bo.count_less(q), np.searchsorted(s, q, "left"))
    assert np.array_equal(bo.count_le(q), np.searchsorted(s, q, "right"))
    live = bo.cnt[bo.rows]
    assert live.max() <= bo.cap and np.count_nonzero(live == 0) * 4 <= max(bo.rows.size, 4)  # few empty rows


@pytest.mark.parametrize("seed", range(6))
def test_block_order_matches_sorted_array_through_updates(seed):
    rng = np.random.default_rng(seed)
    cap = [4, 8, 16][seed % 3]

    def new_keys(m):  # coarse values half the time, so there are many ties
        return np.round(rng.random(m) * (5 if seed % 2 else 1000)) / 7

    keys = new_keys(int(rng.integers(0, 300)) if seed else 0)
    bo = BlockOrder(keys, cap=cap, fill=cap // 2)
    _check(bo, keys, rng)
    for _ in range(40):
        op = rng.integers(0, 4)
        if op == 0 or keys.size == 0:
            add = new_keys(int(rng.integers(0, 60)))
            bo.append(add)
            keys = np.concatenate((keys, add))
        else:
            items = rng.choice(keys.size, int(rng.integers(1, keys.size + 1)), replace=False)
            # op 3 moves them all to one key: rows overflow and split, others empty out
            new = np.full(items.size, rng.choice(keys)) if op == 3 else new_keys(items.size)
            bo.move(items, new)
            keys[items] = new
        _check(bo, keys, rng)


def test_moving_a_few_items_rewrites_only_their_rows():
    rng = np.random.default_rng(0)
    bo = BlockOrder(rng.random(100_000))
    before_k, before_v = bo.K.copy(), bo.V.copy()
    bo.move(np.array([5, 77, 901]), np.array([0.5, 0.25, 0.75]))
    changed = np.flatnonzero((bo.K[: before_k.shape[0]] != before_k).any(axis=1)
                             | (bo.V[: before_v.shape[0]] != before_v).any(axis=1))
    assert 1 <= changed.size <= 6, changed.size


def test_memory_stays_flat_under_many_updates():
    rng = np.random.default_rng(1)
    n = 20_000
    bo = BlockOrder(rng.random(n))
    rows0 = bo.K.shape[0]
    for _ in range(500):
        bo.move(rng.choice(n, 256, replace=False), rng.random(256) ** 3)  # drifting distribution
    assert bo.K.shape[0] <= 2 * rows0
    assert bo.rows.size + len(bo.free) <= bo.K.shape[0]
    _check(bo, bo.keys(), rng)


def test_rank_draws_match_formula_after_updates_and_appends():
    rng = np.random.default_rng(3)
    prio = np.round(rng.random(24) * 5) / 5  # ties
    s = RankStructure(prio, 0.8, cap=4, fill=2)  # small blocks, so updates split and empty them
    for _ in range(30):
        pos = rng.choice(prio.size, 7)  # repeats: the last value wins
        new = np.round(rng.random(7) * 5) / 5
        s.set(pos, new)
        for p, v in zip(pos, new):
            prio[p] = v
    add = np.round(rng.random(6) * 5) / 5
    s.append(add)
    prio = np.concatenate((prio, add))
    expected = brute_rank_probs(list(prio), 0.8)
    assert np.allclose(s.probs(), expected)
    idx, probs = s.draw(300_000, rng)
    assert np.allclose(probs, expected[idx])
    ok, stat, thr = chi2_ok(np.bincount(idx, minlength=prio.size), expected)
    assert ok, (stat, thr)
