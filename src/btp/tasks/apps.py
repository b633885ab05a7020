"""APPS (Hendrycks et al. 2021): the original per-problem folders and the HF row JSONL format.

- Folder format: a problem folder (``question.txt``, ``input_output.json``, optional
  ``starter_code.py``, ``metadata.json`` {difficulty, url}, ``solutions.json``), a folder of such
  folders, or an APPS root with ``train/`` and ``test/`` (then ``split`` picks one; None = both).
- Row format (``.jsonl``, as codeparrot/apps): problem_id, question, starter_code, input_output
  (JSON string), difficulty, url, solutions (JSON string).
- stdin/stdout problems -> ``StdioTest`` (an input or output given as a list of lines is joined
  with newlines). Call-based problems (``fn_name``) -> ``CallTest(args=inputs[i],
  expected=outputs[i])`` with the expected value kept raw: APPS often wraps it in a one-element
  list (``[false]``), and the executor compares APPS-style (tuples vs lists, that wrapping).
  LeetCode-style starter code (``class Solution``) stays in the prompt; ``meta["class_name"]`` is
  then ``"Solution"`` so the executor calls ``Solution().fn_name``. Call-based tasks get the setup
  ``from typing import *``: their starter code annotates with ``List`` without importing it, as
  LeetCode (and APPS's own harness, for ``List``/``Tuple``) provide it.
- task_id ``apps/<split>/<id>`` when the split is known, else ``apps/<id>`` (ids 4 digits).
- Problems without any tests are skipped (logged as a warning).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Iterable

from btp.errors import BtpError
from btp.tasks.hub import hub_rows
from btp.tasks.registry import register
from btp.tasks.rows import Row, read_rows, row_errors
from btp.tasks.spec import DatasetSpec
from btp.tasks.types import CallTest, StdioTest, Task, Test

log = logging.getLogger("btp.tasks")
SPLITS = ("train", "test")
TYPING_SETUP = "from typing import *\n"  # call-based starter code uses List without importing it


def _text(value: Any, trailing_newline: bool) -> str:
    if isinstance(value, list):
        value = "\n".join(str(v) for v in value)
        if trailing_newline and not value.endswith("\n"):
            value += "\n"
    if not isinstance(value, str):
        raise ValueError(f"stdin/stdout test value must be a string, got {type(value).__name__}")
    return value


def apps_tests(io: dict) -> tuple[Test, ...]:
    """The tests of one ``input_output`` object (inputs/outputs[/fn_name])."""
    if not isinstance(io, dict):
        raise ValueError("input_output must be a JSON object")
    inputs, outputs = io["inputs"], io["outputs"]
    if not isinstance(inputs, list) or not isinstance(outputs, list):
        raise ValueError("input_output inputs/outputs must be lists")
    if len(inputs) != len(outputs):
        raise ValueError(f"input_output has {len(inputs)} inputs but {len(outputs)} outputs")
    if io.get("fn_name"):
        return tuple(
            CallTest(args=tuple(x) if isinstance(x, list) else (x,), expected=y) for x, y in zip(inputs, outputs)
        )
    return tuple(StdioTest(_text(x, True), _text(y, False)) for x, y in zip(inputs, outputs))


def apps_prompt(question: str, starter: str, fn_name: str | None) -> str:
    """Statement, how the program is run, and the starter code (kept verbatim)."""
    if not fn_name:
        how = "Write a Python 3 program that reads the input from standard input and prints the answer."
    elif "class Solution" in starter:
        how = f"Complete the method `{fn_name}` of `class Solution` below; it is called with each test's arguments and must return the answer."
    else:
        how = f"Complete the function `{fn_name}` below; it is called with each test's arguments and must return the answer."
    parts = [question.strip(), "", how]
    if starter.strip():
        parts += ["```python", starter.rstrip(), "```"]
    return "\n".join(parts) + "\n"


def _json_field(value: Any) -> Any:
    """HF rows store input_output/solutions as JSON strings ("" when absent)."""
    if isinstance(value, str):
        return json.loads(value) if value.strip() else None
    return value


def _pid(value: Any) -> str:
    s = str(value).strip()
    return f"{int(s):04d}" if s.isdigit() else s


def apps_task(pid: str, question: str, starter: str, io: Any, meta: dict, solutions: Any, split: str | None) -> Task | None:
    """Build one APPS task; None when the problem has no tests."""
    if io is None or not io.get("inputs"):
        return None
    fn_name = io.get("fn_name") or None
    if fn_name and "class Solution" in starter:
        meta = {**meta, "class_name": "Solution"}
    if starter.strip():
        meta = {**meta, "starter_code": starter}
    reference = solutions[0] if isinstance(solutions, list) and solutions and isinstance(solutions[0], str) else None
    return Task(
        task_id=f"apps/{split}/{pid}" if split else f"apps/{pid}",
        prompt=apps_prompt(question, starter, fn_name),
        tests=apps_tests(io),
        entry_point=fn_name,
        setup=TYPING_SETUP if fn_name else "",
        reference=reference,
        source="apps",
        meta={"id": pid, **({"split": split} if split else {}), **meta},
    )


def row_task(row: Row, split: str | None) -> Task | None:
    """One HF-format APPS row -> Task (None when it has no tests)."""
    obj = row.obj
    with row_errors(row.where):
        try:
            io = _json_field(obj.get("input_output"))
            solutions = _json_field(obj.get("solutions"))
        except json.JSONDecodeError as e:
            raise ValueError(f"input_output/solutions is not valid JSON ({e.msg})") from None
        meta = {k: obj[k] for k in ("difficulty", "url") if obj.get(k)}
        return apps_task(_pid(obj["problem_id"]), str(obj["question"]), obj.get("starter_code") or "", io, meta, solutions, split)


def _read_json(path: Path) -> Any:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BtpError(f"{path}: invalid JSON ({getattr(e, 'msg', e)})") from None


def folder_task(folder: Path, split: str | None) -> Task | None:
    """One original-format problem folder -> Task (None when it has no tests)."""
    question = folder / "question.txt"
    if not question.is_file():
        raise BtpError(f"{folder}: not an APPS problem folder (no question.txt)")
    starter = folder / "starter_code.py"
    meta = _read_json(folder / "metadata.json") or {}
    io = _read_json(folder / "input_output.json")
    with row_errors(str(folder / "input_output.json")):
        return apps_task(
            _pid(folder.name),
            question.read_text(encoding="utf-8"),
            starter.read_text(encoding="utf-8") if starter.is_file() else "",
            io,
            {k: meta[k] for k in ("difficulty", "url") if isinstance(meta, dict) and meta.get(k)},
            _read_json(folder / "solutions.json"),
            split,
        )


def _problem_folders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / "question.txt").is_file())


def _from_folder(root: Path, spec: DatasetSpec) -> Iterable[Task | None]:
    if (root / "question.txt").is_file():
        _no_split_here(spec, root)
        return [folder_task(root, None)]
    split_dirs = [s for s in SPLITS if (root / s).is_dir()]
    if split_dirs:
        wanted = _wanted_splits(spec)
        return [folder_task(f, s) for s in split_dirs if s in wanted for f in _problem_folders(root / s)]
    split = root.name if root.name in SPLITS else None
    if spec.split not in (None, "all", split):
        raise BtpError(f"APPS: cannot select split {spec.split!r} from {root} (folder name does not tell the split)")
    folders = _problem_folders(root)
    if not folders:
        raise BtpError(f"{root}: no APPS problem folders (with question.txt) inside")
    return [folder_task(f, split) for f in folders]


def _no_split_here(spec: DatasetSpec, where: Path) -> None:
    if spec.split not in (None, "all"):
        raise BtpError(f"APPS: cannot select split {spec.split!r} from {where} (the format does not tell it)")


def _wanted_splits(spec: DatasetSpec) -> tuple[str, ...]:
    if spec.split in (None, "all"):
        return SPLITS
    if spec.split not in SPLITS:
        raise BtpError(f"APPS has no split {spec.split!r} (known: all, train, test)")
    return (spec.split,)


def _load(spec: DatasetSpec) -> Iterable[Task | None]:
    if spec.path is None:
        return (row_task(r, s) for s in _wanted_splits(spec) for r in hub_rows("codeparrot/apps", s))
    path = Path(spec.path)
    if path.is_dir():
        return _from_folder(path, spec)
    _no_split_here(spec, path)
    return (row_task(r, None) for r in read_rows(path))


@register("apps", "codeparrot/apps")
def load_apps(spec: DatasetSpec) -> list[Task]:
    """APPS from a problem folder tree, an HF-format JSONL file, or the hub."""
    loaded = list(_load(spec))
    tasks = [t for t in loaded if t is not None]
    if len(tasks) < len(loaded):
        log.warning("APPS: skipped %d problems without tests", len(loaded) - len(tasks))
    return tasks
