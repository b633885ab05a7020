"""From model output to a runnable program.

Rules, in order:
1. Code is the first fenced block (```python ... ``` or ``` ... ```); an unclosed fence runs to the
   end; without a fence the whole output is code.
2. Trailing prose after the code (lines that are not Python) is cut where the code stops parsing.
3. For function tasks, the program is the prompt's header (imports, helpers: everything before
   ``def <entry_point>``) followed by the code when the code defines the entry point; otherwise the
   code is taken as the function's body and appended to the prompt.

``code_span`` reports where the kept code sits in the output, so likelihoods can cover exactly it.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from btp.tasks.types import Task

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n")


@dataclass(frozen=True)
class Extracted:
    program: str
    code_start: int  # span of the model's own text that appears in the program
    code_end: int


def find_code(text: str) -> tuple[int, int]:
    """Character span of the code inside a model's output."""
    m = _FENCE.search(text)
    if m is None:
        start, end = 0, len(text)
    else:
        start = m.end()
        close = text.find("```", start)
        end = len(text) if close < 0 else close
    return start, _trim_prose(text, start, end)


def _trim_prose(text: str, start: int, end: int) -> int:
    """Drop trailing lines that stop the code parsing (prose after a fenceless answer)."""
    code = text[start:end]
    if _parses(code):
        return start + len(code.rstrip()) if code.strip() else start
    lines = code.splitlines(keepends=True)
    for n in range(len(lines) - 1, 0, -1):
        head = "".join(lines[:n])
        if _parses(head):
            return start + len(head.rstrip())
    return start + len(code.rstrip())


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
        return True
    except (SyntaxError, ValueError):
        return False


def defines(code: str, name: str) -> bool:
    return re.search(rf"^\s*def\s+{re.escape(name)}\s*\(", code, re.M) is not None or (
        re.search(rf"^class\s+{re.escape(name)}\b", code, re.M) is not None
    )


def prompt_header(prompt: str, entry_point: str) -> str:
    """Everything in a function prompt before ``def entry_point``."""
    m = re.search(rf"^def\s+{re.escape(entry_point)}\s*\(", prompt, re.M)
    return prompt[: m.start()] if m else ""


def extract(task: Task, text: str) -> Extracted:
    start, end = find_code(text)
    code = text[start:end]
    ep = task.entry_point
    if not ep or f"def {ep}" not in task.prompt:
        return Extracted(code.strip("\n") + "\n", start, end)
    if defines(code, ep):
        header = prompt_header(task.prompt, ep)
        return Extracted(header + code.strip("\n") + "\n", start, end)
    body = code if code.startswith((" ", "\t")) else _indent(code)
    return Extracted(task.prompt.rstrip("\n") + "\n" + body.rstrip() + "\n", start, end)


def _indent(code: str) -> str:
    return "".join(("    " + line if line.strip() else line) for line in code.splitlines(keepends=True))


def answer_code(task: Task, program: str) -> str:
    """The code a model should answer with for ``program``: the program minus the prompt's header.

    ``extract`` prepends the prompt's imports and helpers to the model's code so the program runs;
    training on that header would teach the model to copy the prompt, so the header is dropped again.
    """
    if task.entry_point:
        header = prompt_header(task.prompt, task.entry_point)
        if program.startswith(header):
            program = program[len(header):]
    return program.lstrip("\n")
