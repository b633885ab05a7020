"""Execution: run programs against tests in a sandbox, per-test outcomes.

    from btp.execution import Executor, ExecConfig
    with Executor(ExecConfig(workers=2, timeout=5.0)) as ex:
        results = ex.run(task, ["def f(x): return x"])

See docs/SANDBOX.md for the isolation design and the verdict rules.
"""

from btp.execution.config import ExecConfig
from btp.execution.executor import Executor
from btp.execution.types import Outcome, Result

__all__ = ["Executor", "ExecConfig", "Outcome", "Result"]
