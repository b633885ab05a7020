"""The normalized task model shared by every stage.

A Task is a prompt plus tests. A test is one of three kinds:

- ``AssertTest``: Python code run after the program, with ``candidate`` bound to the entry point.
- ``StdioTest``: the program runs as ``__main__`` with ``input`` on stdin; stdout must match ``output``.
- ``CallTest``: ``entry_point(*args)`` must return ``expected``.

JSON form (btp task JSONL, one task a line)::

    {"task_id": str, "prompt": str, "entry_point": str|null, "setup": str,
     "tests": [TEST, ...], "reference": str|null, "source": str, "meta": {}}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Union

from btp.errors import BtpError


@dataclass(frozen=True)
class AssertTest:
    code: str

    def to_json(self) -> dict:
        return {"type": "assert", "code": self.code}


@dataclass(frozen=True)
class StdioTest:
    input: str
    output: str

    def to_json(self) -> dict:
        return {"type": "stdio", "input": self.input, "output": self.output}


@dataclass(frozen=True)
class CallTest:
    args: tuple
    expected: Any

    def to_json(self) -> dict:
        return {"type": "call", "args": list(self.args), "expected": self.expected}


Test = Union[AssertTest, StdioTest, CallTest]


def test_from_json(obj: dict) -> Test:
    kind = obj.get("type") if isinstance(obj, dict) else None
    try:
        if kind == "assert":
            return AssertTest(code=str(obj["code"]))
        if kind == "stdio":
            return StdioTest(input=str(obj["input"]), output=str(obj["output"]))
        if kind == "call":
            return CallTest(args=tuple(obj["args"]), expected=obj["expected"])
    except KeyError as e:
        raise BtpError(f"test of type {kind!r} is missing field {e.args[0]!r}") from None
    raise BtpError(f"unknown test type {kind!r} (expected 'assert', 'stdio' or 'call')")


@dataclass(frozen=True)
class Task:
    task_id: str
    prompt: str
    tests: tuple[Test, ...]
    entry_point: str | None = None
    setup: str = ""
    reference: str | None = None
    source: str = ""
    meta: dict = field(default_factory=dict, compare=False, hash=False)

    def to_json(self) -> dict:
        return {
            "task_id": self.task_id,
            "prompt": self.prompt,
            "entry_point": self.entry_point,
            "setup": self.setup,
            "tests": [t.to_json() for t in self.tests],
            "reference": self.reference,
            "source": self.source,
            "meta": self.meta,
        }

    @classmethod
    def from_json(cls, obj: dict) -> "Task":
        if not isinstance(obj, dict):
            raise BtpError(f"task must be a JSON object, got {type(obj).__name__}")
        for key in ("task_id", "prompt", "tests"):
            if key not in obj:
                raise BtpError(f"task {obj.get('task_id', '?')!r} is missing field {key!r}")
        if not isinstance(obj["tests"], list):
            raise BtpError(f"task {obj['task_id']!r}: 'tests' must be a list")
        return cls(
            task_id=str(obj["task_id"]),
            prompt=str(obj["prompt"]),
            tests=tuple(test_from_json(t) for t in obj["tests"]),
            entry_point=obj.get("entry_point"),
            setup=obj.get("setup") or "",
            reference=obj.get("reference"),
            source=obj.get("source") or "",
            meta=dict(obj.get("meta") or {}),
        )

    def tests_json(self) -> str:
        try:
            return json.dumps([t.to_json() for t in self.tests], sort_keys=True)
        except ValueError as e:  # an int past Python's digit limit for int <-> str (4300 by default)
            raise BtpError(f"task {self.task_id!r}: a test value cannot be written as JSON ({e}); "
                           "sys.set_int_max_str_digits() raises the limit") from None
