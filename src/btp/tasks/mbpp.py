"""MBPP (Austin et al. 2021): original ``mbpp.jsonl`` and the sanitized ``sanitized-mbpp.json`` format.

- entry_point: the function the first test calls (the first called name the reference defines;
  else the first called name that is not a builtin).
- prompt: the task text plus an instruction naming the function and its parameters (from the
  reference) and the first test as an example -- MBPP prompts must name the function the tests
  call, and showing one test is the MBPP paper's standard prompt.
- tests: one AssertTest per entry of ``test_list`` (group ``base``, the default) and, if asked
  for, of ``challenge_test_list`` (group ``challenge``).
- setup: sanitized ``test_imports`` joined (imports only, safe before the program). The original
  format's ``test_setup_code`` (2 tasks) builds objects with classes the *program* defines
  (``root = Node(1)``), so it is prepended to each test's code instead (runs after the program,
  as in the MBPP harness).
- splits by task id: test 11-510, train 511-974, validation 511-600, prompt 1-10, all.
"""

from __future__ import annotations

import ast
import builtins
import warnings
from typing import Iterable

from btp.errors import BtpError
from btp.tasks.hub import hub_rows
from btp.tasks.registry import register
from btp.tasks.rows import Row, read_rows, row_errors
from btp.tasks.spec import DatasetSpec, check_groups
from btp.tasks.types import AssertTest, Task

SPLITS: dict[str, range] = {
    "test": range(11, 511),
    "train": range(511, 975),
    "validation": range(511, 601),
    "prompt": range(1, 11),
}
GROUPS = ("base", "challenge")


def _parse(code: str) -> ast.Module:
    """ast.parse without the invalid-escape warnings old MBPP code triggers."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (DeprecationWarning, SyntaxWarning))
        return ast.parse(code)


def _called_names(code: str) -> list[str]:
    """Names called as plain functions in ``code``, in source order."""
    calls = [n for n in ast.walk(_parse(code)) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    calls.sort(key=lambda n: (n.lineno, n.col_offset))
    return [c.func.id for c in calls]


def _defined(reference: str) -> dict[str, ast.AST]:
    """Top-level functions and classes that the reference solution defines."""
    try:
        body = _parse(reference).body
    except SyntaxError:
        return {}
    return {n.name: n for n in body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}


def entry_point_of(first_test: str, reference: str) -> str:
    """The function the first test calls: prefer names the reference defines, then non-builtins."""
    called = _called_names(first_test)
    defined = _defined(reference)
    for pick in (lambda c: c in defined, lambda c: not hasattr(builtins, c), lambda c: True):
        for name in called:
            if pick(name):
                return name
    raise ValueError("the first test calls no function")


def signature_of(name: str, first_test: str, reference: str) -> str:
    """``name(a, b)``: parameters from the reference's def, else placeholders by the test's arity."""
    node = _defined(reference).get(name)
    if isinstance(node, ast.FunctionDef):
        a = node.args
        params = [p.arg for p in a.posonlyargs + a.args]
        if a.vararg:
            params.append("*" + a.vararg.arg)
        params += [p.arg for p in a.kwonlyargs]
        if a.kwarg:
            params.append("**" + a.kwarg.arg)
        return f"{name}({', '.join(params)})"
    calls = [n for n in ast.walk(_parse(first_test)) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == name]
    arity = len(calls[0].args) if calls else 0
    return f"{name}({', '.join(f'arg{i}' for i in range(arity))})"


def mbpp_prompt(text: str, signature: str, first_test: str) -> str:
    return (
        f"{text.strip()}\n"
        f"Write a Python function `{signature}` that does this. "
        f"Your code should pass tests like this one:\n{first_test.strip()}\n"
    )


def _unix(s: str) -> str:
    return s.replace("\r\n", "\n")


def mbpp_task(row: Row, groups: tuple[str, ...]) -> Task:
    """One MBPP row (original or sanitized format) -> Task."""
    obj = row.obj
    with row_errors(row.where):
        if not str(obj["task_id"]).strip().isdigit():
            raise ValueError(f"task_id must be an integer, got {obj['task_id']!r}")
        num = int(obj["task_id"])
        text = obj["text"] if "text" in obj else obj["prompt"]
        reference = _unix(str(obj["code"]))
        asserts = [_unix(str(t)) for t in obj["test_list"]]
        if not asserts:
            raise ValueError("test_list is empty")
        if "base" not in groups:
            asserts = []
        if "challenge" in groups:
            asserts += [_unix(str(t)) for t in obj.get("challenge_test_list") or []]
        first = _unix(str(obj["test_list"][0]))
        entry = entry_point_of(first, reference)
        prefix = _unix(obj.get("test_setup_code") or "").strip()
        prefix = prefix + "\n" if prefix else ""
        setup = "\n".join(obj.get("test_imports") or [])
        return Task(
            task_id=f"mbpp/{num}",
            prompt=mbpp_prompt(str(text), signature_of(entry, first, reference), first),
            tests=tuple(AssertTest(prefix + a) for a in asserts),
            entry_point=entry,
            setup=setup + "\n" if setup else "",
            reference=reference,
            source="mbpp",
            meta={"id": num},
        )


def _split_ids(spec: DatasetSpec) -> range | None:
    if spec.split in (None, "all"):
        return None
    if spec.split not in SPLITS:
        raise BtpError(f"MBPP has no split {spec.split!r} (known: all, {', '.join(SPLITS)})")
    return SPLITS[spec.split]


def _rows(spec: DatasetSpec) -> Iterable[Row]:
    if spec.path:
        return read_rows(spec.path)
    # Hub: the "full" config's four splits hold ids 1-974; our id-based split is applied after.
    return (r for s in ("prompt", "test", "validation", "train") for r in hub_rows("google-research-datasets/mbpp", s, "full"))


@register("mbpp", "google-research-datasets/mbpp")
def load_mbpp(spec: DatasetSpec) -> list[Task]:
    """MBPP from ``--path`` (mbpp.jsonl or sanitized-mbpp.json) or the hub; split by task id."""
    ids = _split_ids(spec)
    groups = check_groups(spec, GROUPS, ("base",))
    tasks = [mbpp_task(row, groups) for row in _rows(spec)]
    tasks.sort(key=lambda t: t.meta["id"])
    return [t for t in tasks if ids is None or t.meta["id"] in ids]
