"""Verdicts from raw results: stdout comparison profiles and APPS-style call comparison.

Runs in the host, never in the sandbox, so expected outputs never reach a program.

Stdio profiles (name -> rule):

- ``whitespace`` (default): the whitespace-separated token sequences are equal (like testlib's
  ``wcmp``: extra spaces, blank lines, trailing newline and CRLF do not matter; token order does).
- ``lines``: line by line after stripping trailing whitespace of each line; trailing blank lines
  ignored (LiveCodeBench-style).
- ``exact``: byte-for-byte equal.
- ``float``: like ``whitespace``, but two tokens that both parse as floats are equal when
  ``|a - b| <= tol * max(1, |b|)`` (``ExecConfig.float_tol``).
- a callable ``(stdin, expected, actual) -> bool``: a custom checker for problems with several
  right answers; from the CLI or a config file, named as ``"package.module:function"``.

Call tests: the return value travels as JSON, so tuples become lists at every depth; it is correct
when it equals ``expected``, or, as APPS does, when ``expected`` is a non-empty list and the value
equals ``expected[0]`` (APPS stores some outputs wrapped in a one-element list). Values that are not
JSON-representable (sets, custom objects) fail.
"""

from __future__ import annotations

import json
import math
from typing import Any, Callable

from btp.errors import BtpError
from btp.execution.types import Outcome
from btp.tasks.types import CallTest, StdioTest, Test

Checker = Callable[[str, str, str], bool]


def _whitespace(_inp: str, expected: str, actual: str) -> bool:
    return expected.split() == actual.split()


def _lines(_inp: str, expected: str, actual: str) -> bool:
    def norm(text: str) -> list[str]:
        lines = [line.rstrip() for line in text.splitlines()]
        while lines and not lines[-1]:
            lines.pop()
        return lines

    return norm(expected) == norm(actual)


def _exact(_inp: str, expected: str, actual: str) -> bool:
    return expected == actual


def _float_token_equal(e: str, a: str, tol: float) -> bool:
    if e == a:
        return True
    try:
        fe, fa = float(e), float(a)
    except ValueError:
        return False
    if math.isnan(fe) or math.isnan(fa):
        return math.isnan(fe) and math.isnan(fa)
    return abs(fa - fe) <= tol * max(1.0, abs(fe))


def float_profile(tol: float) -> Checker:
    """The ``float`` profile with tolerance ``tol``."""

    def check(_inp: str, expected: str, actual: str) -> bool:
        e, a = expected.split(), actual.split()
        return len(e) == len(a) and all(_float_token_equal(x, y, tol) for x, y in zip(e, a))

    return check


PROFILES: dict[str, Checker] = {"whitespace": _whitespace, "lines": _lines, "exact": _exact}
PROFILE_NAMES = ("whitespace", "lines", "exact", "float")


def resolve_profile(profile: str | Checker, float_tol: float = 1e-6) -> Checker:
    if callable(profile):
        return profile
    if isinstance(profile, str) and ":" in profile:
        return load_checker(profile)
    if profile == "float":
        return float_profile(float_tol)
    if profile in PROFILES:
        return PROFILES[profile]
    raise BtpError(f"unknown comparison profile {profile!r} (known: {', '.join(PROFILE_NAMES)}, "
                   f"or a checker as 'package.module:function')")


def load_checker(spec: str) -> Checker:
    """The checker callable named ``"package.module:function"`` (imported in the host only)."""
    import importlib

    module, _, name = spec.partition(":")
    try:
        fn = getattr(importlib.import_module(module), name)
    except Exception as e:  # noqa: BLE001 - any import failure is a bad profile name
        raise BtpError(f"cannot load checker {spec!r}: {type(e).__name__}: {e}") from None
    if not callable(fn):
        raise BtpError(f"checker {spec!r} is not callable")
    return fn


def call_equal(value: Any, expected: Any) -> bool:
    """APPS call-based rule on JSON values (tuples already lists)."""
    if value == expected:
        return True
    return isinstance(expected, list) and len(expected) > 0 and value == expected[0]


def _normalize_expected(expected: Any) -> Any:
    return json.loads(json.dumps(expected))  # tuples -> lists, like the returned value


def verdict(test: Test, raw: list, checker: Checker) -> Outcome:
    """One test's Outcome from the sandbox's raw result for it."""
    kind = raw[0]
    if kind == "stdout" and isinstance(test, StdioTest):
        try:
            ok = checker(test.input, test.output, raw[1])
        except Exception:  # noqa: BLE001 - a checker that crashes cannot certify a pass
            return Outcome.ERROR
        return Outcome.PASS if ok else Outcome.FAIL
    if kind == "value" and isinstance(test, CallTest):
        try:
            value = json.loads(raw[1])
        except Exception:  # noqa: BLE001 - the program made the string: too deep, too big, not JSON
            return Outcome.ERROR
        try:
            return Outcome.PASS if call_equal(value, _normalize_expected(test.expected)) else Outcome.FAIL
        except RecursionError:
            return Outcome.ERROR
    if kind in ("stdout", "value"):
        return Outcome.ERROR
    return Outcome(kind)
