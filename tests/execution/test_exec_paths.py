"""The sandbox works wherever btp is installed: CI clones the repository into a folder that may be
under /tmp, which every program sees as its own fresh scratch directory."""

import shutil
import subprocess
import sys
from pathlib import Path

import btp

SCRIPT = """
import btp, sys
from btp.execution import Executor, ExecConfig
from btp.tasks.types import AssertTest, Task
assert btp.__file__.startswith(sys.argv[1]), btp.__file__
task = Task("t", "", (AssertTest("assert candidate(2) == 4"), AssertTest("import os; assert not os.path.exists('/tmp/x')")), entry_point="f")
with Executor(ExecConfig(workers=1)) as ex:
    a, b = ex.run(task, ["def f(x):\\n    open('/tmp/x', 'w').write('1')\\n    return x * 2\\n",
                         "def f(x):\\n    return x * 2\\n"])
print(a.outcomes[0].value, b.outcomes[0].value, b.outcomes[1].value)
"""


def test_sandbox_runs_when_btp_lives_under_tmp(tmp_path):
    assert str(tmp_path).startswith("/tmp/")
    src = tmp_path / "checkout" / "src"
    shutil.copytree(Path(btp.__file__).parent, src / "btp", ignore=shutil.ignore_patterns("__pycache__"))
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(src)], capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"}, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # each program gets a fresh /tmp: the second program does not see the first one's file
    assert proc.stdout.split() == ["pass", "pass", "pass"]
