"""CodeContests (Li et al. 2022): HF-style rows and the shared sample format; stdin/stdout tests.

- HF rows (deepmind/code_contests): name, description, public_tests / private_tests /
  generated_tests ({"input": [...], "output": [...]}), solutions ({"language", "solution"}),
  difficulty, time_limit ({"seconds", "nanos"}), memory_limit_bytes. ``test_groups`` picks the
  groups (default public, private, generated); reference = the first PYTHON3 solution.
- Sample rows: {"name", "problem_md", "tests": [{"input", "output"}], ...}: one mixed group of tests
  (so ``test_groups`` cannot be chosen); the prompt is ``problem_md`` without its "## Testing" part;
  difficulty is read from its ``**Difficulty:** N`` line.
- task_id ``codecontests/<name>``; meta: difficulty, time_limit (seconds) when present.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from btp.errors import BtpError
from btp.tasks.hub import hub_rows
from btp.tasks.registry import no_split, register
from btp.tasks.rows import Row, read_rows, row_errors
from btp.tasks.spec import DatasetSpec, check_groups
from btp.tasks.types import StdioTest, Task

GROUPS = ("public", "private", "generated")
HUB_SPLITS = ("train", "valid", "test")
PYTHON3 = 3  # ContestProblem.Solution.Language.PYTHON3 in the CodeContests proto
HOW = "Write a Python 3 program that reads the input from standard input and prints the answer to standard output."
_DIFFICULTY = re.compile(r"^\*\*Difficulty:\*\*\s*(\d+)\s*$", re.M)
_TESTING = re.compile(r"^## Testing\b.*", re.M | re.S)


def _group_tests(group: Any, name: str) -> list[StdioTest]:
    if group is None:
        return []
    inputs, outputs = group["input"], group["output"]
    if len(inputs) != len(outputs):
        raise ValueError(f"{name}_tests has {len(inputs)} inputs but {len(outputs)} outputs")
    return [StdioTest(str(i), str(o)) for i, o in zip(inputs, outputs)]


def _time_limit(value: Any) -> float | None:
    if isinstance(value, dict):
        return float(value.get("seconds") or 0) + float(value.get("nanos") or 0) / 1e9
    return float(value) if isinstance(value, (int, float)) else None


def _first_python3(solutions: Any) -> str | None:
    if not isinstance(solutions, dict):
        return None
    for lang, code in zip(solutions.get("language") or [], solutions.get("solution") or []):
        if lang == PYTHON3:
            return code
    return None


def hf_task(row: Row, groups: tuple[str, ...]) -> Task:
    """One HF-style CodeContests row -> Task."""
    obj = row.obj
    with row_errors(row.where):
        tests = [t for g in groups for t in _group_tests(obj.get(f"{g}_tests"), g)]
        meta: dict = {}
        if obj.get("difficulty") is not None:
            meta["difficulty"] = obj["difficulty"]
        limit = _time_limit(obj.get("time_limit"))
        if limit:
            meta["time_limit"] = limit
        if obj.get("memory_limit_bytes"):
            meta["memory_limit_bytes"] = int(obj["memory_limit_bytes"])
        return Task(
            task_id=f"codecontests/{obj['name']}",
            prompt=f"{str(obj['description']).strip()}\n\n{HOW}\n",
            tests=tuple(tests),
            reference=_first_python3(obj.get("solutions")),
            source="codecontests",
            meta=meta,
        )


def sample_task(row: Row) -> Task:
    """One shared-sample row {"name", "problem_md", "tests"} -> Task."""
    obj = row.obj
    with row_errors(row.where):
        md = str(obj["problem_md"])
        tests = tuple(StdioTest(str(t["input"]), str(t["output"])) for t in obj["tests"])
        meta: dict = {}
        m = _DIFFICULTY.search(md)
        if m:
            meta["difficulty"] = int(m.group(1))
        if obj.get("tags"):
            meta["tags"] = list(obj["tags"])
        return Task(
            task_id=f"codecontests/{obj['name']}",
            prompt=f"{_TESTING.sub('', md).strip()}\n\n{HOW}\n",
            tests=tests,
            source="codecontests",
            meta=meta,
        )


def row_to_task(row: Row, spec: DatasetSpec) -> Task:
    """Dispatch on the row's shape (sample rows carry ``problem_md``; HF rows ``description``)."""
    if "problem_md" in row.obj:
        if spec.test_groups:
            raise BtpError(f"{row.where}: sample-format rows have one mixed test group; test groups cannot be chosen")
        return sample_task(row)
    if "description" in row.obj:
        return hf_task(row, check_groups(spec, GROUPS, GROUPS))
    raise BtpError(f"{row.where}: not a CodeContests row (needs 'problem_md'+'tests' or 'description'+'*_tests')")


def _rows(spec: DatasetSpec) -> Iterable[Row]:
    if spec.path:
        no_split(spec, "a local file does not record its split")
        return read_rows(spec.path)
    if spec.split in (None, "all"):
        splits = HUB_SPLITS
    elif spec.split in HUB_SPLITS:
        splits = (spec.split,)
    else:
        raise BtpError(f"CodeContests has no split {spec.split!r} (known: all, {', '.join(HUB_SPLITS)})")
    return (r for s in splits for r in hub_rows("deepmind/code_contests", s))


@register("codecontests", "deepmind/code_contests")
def load_codecontests(spec: DatasetSpec) -> list[Task]:
    """CodeContests from a JSONL file (HF rows or sample rows) or the hub. Tasks without tests are skipped."""
    check_groups(spec, GROUPS, GROUPS)
    tasks = [row_to_task(r, spec) for r in _rows(spec)]
    return [t for t in tasks if t.tests]
