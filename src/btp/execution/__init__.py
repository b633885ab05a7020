"""Execution: run programs against tests in a sandbox, per-test outcomes.

    from btp.execution import Executor, ExecConfig
    with Executor(ExecConfig(workers=2, timeout=5.0)) as ex:
        results = ex.run(task, ["def f(x): return x"])

See docs/SANDBOX.md for the isolation design and the verdict rules.

The names are resolved lazily (PEP 562): the sandbox's zygote imports modules of this package
(``boot``, ``zygote``, ``runner``), and every module it holds makes each per-program fork copy
more pages; it must not pull in the host side (executor threads, subprocess, task types).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing into every sandbox worker
__all__ = ["Executor", "ExecConfig", "Outcome", "Result"]

_WHERE = {"Executor": "executor", "ExecConfig": "config", "Outcome": "types", "Result": "types"}

if TYPE_CHECKING:  # pragma: no cover
    from btp.execution.config import ExecConfig
    from btp.execution.executor import Executor
    from btp.execution.types import Outcome, Result


def __getattr__(name: str):
    if name in _WHERE:
        import importlib

        value = getattr(importlib.import_module(f"btp.execution.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'btp.execution' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
