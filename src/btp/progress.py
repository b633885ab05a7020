"""Rich progress bars shared by long-running commands.

On a terminal they are live bars. When output goes to a file or a pipe (``nohup btp run ... >
log``), rich cannot redraw, so the same bars print a plain line per task every ``every`` seconds
and when the task completes: description, done/total, elapsed, remaining, and the info field.
"""

from __future__ import annotations

import time

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


class LoggedProgress(Progress):
    """A rich Progress that also logs plain lines when its console is not a terminal."""

    def __init__(self, *columns, console, every: float = 30.0) -> None:
        super().__init__(*columns, console=console)
        self._plain = not console.is_terminal
        self._every = every
        self._logged: dict = {}

    def update(self, task_id, **kwargs) -> None:
        super().update(task_id, **kwargs)
        if not self._plain:
            return
        task = next((t for t in self.tasks if t.id == task_id), None)
        if task is None:
            return
        now = time.monotonic()
        done = task.total is not None and task.completed >= task.total
        if done and self._logged.get(task_id) == "done":
            return
        if done or now - self._logged.get(task_id, 0.0) >= self._every:
            self._logged[task_id] = "done" if done else now
            total = "?" if task.total is None else int(task.total)
            self.console.print(f"{task.description}: {int(task.completed)}/{total}, elapsed {_clock(task.elapsed)}, "
                               f"remaining {_clock(task.time_remaining)} {task.fields.get('info', '')}".rstrip(),
                               highlight=False, soft_wrap=True)


def progress_bar(console, every: float = 30.0) -> Progress:
    return LoggedProgress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
        console=console,
        every=every,
    )
