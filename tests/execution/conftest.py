"""Shared fixtures for execution tests: one warm Executor per module, sandbox availability probe."""

from __future__ import annotations

import os

import pytest

from btp.execution import ExecConfig, Executor, linux


def _namespaces_available() -> bool:
    pid = os.fork()
    if pid == 0:
        try:
            linux.unshare(linux.CLONE_NEWUSER | linux.CLONE_NEWNS | linux.CLONE_NEWNET | linux.CLONE_NEWPID)
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


NAMESPACES = _namespaces_available()


@pytest.fixture(scope="module")
def ex():
    if not NAMESPACES:
        pytest.skip("unprivileged user namespaces are unavailable on this machine (needed by the sandbox)")
    with Executor(ExecConfig(workers=2, timeout=2.0, memory_mb=512, wall_factor=2.0)) as e:
        yield e
