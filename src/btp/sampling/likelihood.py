"""Which tokens make up a stored program, so its likelihood covers exactly them.

A token covers the characters it adds to the decoded text: token ``i`` of ``ids`` covers
``[len(decode(ids[:i])), len(decode(ids[:i+1])))``. The program's tokens are those whose cover
overlaps the code's character span; they are contiguous, found by binary search (O(log n) decodes).
Sampling (the writer's own log-probs) and re-scoring (``btp score``) both use this rule.
"""

from __future__ import annotations

from typing import Callable, Sequence


def token_span(tokenizer, ids: Sequence[int], start: int, end: int) -> tuple[int, int]:
    """Tokens ``[i0, i1)`` of ``ids`` whose text overlaps characters ``[start, end)`` of their decoding."""
    ids = list(ids)
    n = len(ids)
    if end <= start or n == 0:
        return 0, 0
    cache: dict[int, int] = {0: 0}

    def length(i: int) -> int:  # characters decoded from the first i tokens
        if i not in cache:
            cache[i] = len(tokenizer.decode(ids[:i], skip_special_tokens=True))
        return cache[i]

    i0 = _first(lambda i: length(i + 1) > start, 0, n)
    i1 = _first(lambda i: length(i) >= end, i0, n + 1)
    return i0, min(i1, n)


def _first(pred: Callable[[int], bool], lo: int, hi: int) -> int:
    """Smallest i in [lo, hi) with pred(i) (pred monotone), else hi."""
    while lo < hi:
        mid = (lo + hi) // 2
        if pred(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo
