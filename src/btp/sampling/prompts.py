"""Turn a task into chat messages. Shared by sampling and training so both see the same text."""

from __future__ import annotations

from btp.tasks.types import StdioTest, Task

_FUNCTION = (
    "Complete the following Python function. Reply with the whole function, including any imports "
    "it needs, in one ```python code block.\n\n```python\n{prompt}\n```"
)
_FUNCTION_TEXT = "{prompt}\n\nReply with the Python code in one ```python code block."
_STDIO = (
    "{prompt}\n\nWrite a complete Python 3 program that reads the input from standard input and "
    "prints the answer to standard output. Reply with the code in one ```python code block."
)


def is_stdio(task: Task) -> bool:
    return bool(task.tests) and all(isinstance(t, StdioTest) for t in task.tests)


def user_message(task: Task) -> str:
    if is_stdio(task):
        return _STDIO.format(prompt=task.prompt.strip())
    if task.entry_point and f"def {task.entry_point}" in task.prompt:
        return _FUNCTION.format(prompt=task.prompt.rstrip())
    return _FUNCTION_TEXT.format(prompt=task.prompt.strip())


def render_prompt(task: Task, tokenizer) -> str:
    """The exact text fed to the model: its chat template when it has one, else the raw message."""
    message = user_message(task)
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": message}], tokenize=False, add_generation_prompt=True
        )
    return message + "\n"
