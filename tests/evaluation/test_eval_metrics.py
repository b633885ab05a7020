"""Evaluation metrics: pass@k against brute-force enumeration; pass rate, strict accuracy, summarize."""

from __future__ import annotations

import itertools
import math

import pytest

from btp.errors import BtpError
from btp.evaluation.metrics import groups_by, pass_at_k, pass_rate, strict_accuracy, summarize
from btp.execution.types import Outcome, Result
from btp.tasks import Task

P, F, E = Outcome.PASS, Outcome.FAIL, Outcome.ERROR


def brute_pass_at_k(n: int, c: int, k: int) -> float:
    """Fraction of all k-subsets of n programs (c correct) that contain a correct program."""
    programs = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(programs[i] for i in s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("n", range(1, 9))
def test_pass_at_k_matches_brute_force(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert pass_at_k(n, c, k) == pytest.approx(brute_pass_at_k(n, c, k), abs=1e-12), (n, c, k)


def test_pass_at_k_is_stable_for_large_n():
    # closed form with exact integers as the reference
    n, c, k = 200, 3, 100
    exact = 1 - math.comb(n - c, k) / math.comb(n, k)
    assert pass_at_k(n, c, k) == pytest.approx(exact, rel=1e-12)
    assert pass_at_k(1000, 1, 1) == pytest.approx(0.001)


@pytest.mark.parametrize("n, c, k", [(0, 0, 1), (3, 4, 1), (3, -1, 1), (3, 1, 0), (3, 1, 4)])
def test_pass_at_k_rejects_bad_arguments(n, c, k):
    with pytest.raises(BtpError):
        pass_at_k(n, c, k)


def test_pass_rate_and_strict_accuracy():
    results = [Result((P, P)), Result((P, F, E, P)), Result(()), Result((F,))]
    assert pass_rate(results) == pytest.approx((1 + 0.5 + 0 + 0) / 4)
    assert strict_accuracy(results) == pytest.approx(1 / 4)  # no tests is not a pass
    with pytest.raises(BtpError):
        pass_rate([])
    with pytest.raises(BtpError):
        strict_accuracy([])


def test_summarize_with_several_programs_per_task_and_groups():
    per_task = {
        "a": [Result((P, P)), Result((P, F)), Result((F, F))],
        "b": [Result((P,)), Result((P,)), Result((E,))],
        "c": [Result((F, P, P)), Result((F, F, F)), Result((F, F, F))],
    }
    s = summarize(per_task, k=(1, 2, 4), group_of={"a": "easy", "b": "easy", "c": "hard"})
    assert s["n_tasks"] == 3 and s["n_programs"] == 9
    assert s["pass_rate"] == pytest.approx(((1 + 0.5 + 0) / 3 + (2 / 3) + (2 / 3) / 3) / 3)
    assert s["strict_accuracy"] == pytest.approx((1 / 3 + 2 / 3 + 0) / 3)
    assert s["pass@1"] == pytest.approx(s["strict_accuracy"])
    assert s["pass@2"] == pytest.approx((brute_pass_at_k(3, 1, 2) + brute_pass_at_k(3, 2, 2) + 0) / 3)
    assert s["pass@4"] is None  # fewer than 4 programs per task
    assert sorted(s["groups"]) == ["easy", "hard"]
    assert s["groups"]["easy"]["n_tasks"] == 2 and s["groups"]["hard"]["strict_accuracy"] == 0.0
    assert s["groups"]["easy"]["pass@1"] == pytest.approx((1 / 3 + 2 / 3) / 2)


def test_summarize_rejects_empty_and_unknown_groups():
    with pytest.raises(BtpError, match="no tasks"):
        summarize({})
    with pytest.raises(BtpError, match="'a' has no results"):
        summarize({"a": []})
    with pytest.raises(BtpError, match="'b' has no group"):
        summarize({"a": [Result((P,))], "b": [Result((P,))]}, group_of={"a": "x"})
    with pytest.raises(BtpError, match="k >= 1"):
        summarize({"a": [Result((P,))]}, k=(0,))


def test_groups_by_source_or_meta_key():
    tasks = [Task("x", "p", (), source="mbpp", meta={"difficulty": "interview"}), Task("y", "p", ())]
    assert groups_by(tasks, "source") == {"x": "mbpp", "y": "unknown"}
    assert groups_by(tasks, "difficulty") == {"x": "interview", "y": "unknown"}
