"""Host-side handle of one sandboxed worker (boot process + zygote), speaking frames over pipes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import btp
from btp.errors import BtpError
from btp.execution.config import ExecConfig
from btp.execution.protocol import FrameError, Reader, seal, send
from btp.tasks.types import AssertTest, CallTest, Task

SANDBOX_UID = 65534  # outside uid of a sandbox started by root: nobody


class WorkerDied(Exception):
    """The worker stopped answering (it is restarted; the program gets error outcomes)."""


def _env() -> dict:
    src = os.path.dirname(os.path.dirname(os.path.abspath(btp.__file__)))
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp", "TMPDIR": "/tmp",
        "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": src,
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
    }


def _write_maps(pid: int) -> None:
    uid, gid = os.getuid(), os.getgid()
    if uid == 0:
        uid_map, gid_map = f"0 {SANDBOX_UID} 1\n", f"0 {SANDBOX_UID} 1\n"
    else:
        with open(f"/proc/{pid}/setgroups", "w") as f:
            f.write("deny")
        uid_map, gid_map = f"0 {uid} 1\n", f"0 {gid} 1\n"
    with open(f"/proc/{pid}/uid_map", "w") as f:
        f.write(uid_map)
    with open(f"/proc/{pid}/gid_map", "w") as f:
        f.write(gid_map)


def encode_tests(task: Task, key: bytes, request: int) -> list:
    """What the sandbox gets of each test: never an expected output. An assert test's code holds
    its expected values: it is sealed for the judge (``protocol.seal``), never readable by the
    zygote."""
    out = []
    for i, t in enumerate(task.tests):
        if isinstance(t, AssertTest):
            out.append(["assert", seal(key, f"{request}.{i}", t.code)])
        elif isinstance(t, CallTest):
            out.append(["call", list(t.args)])
        else:
            out.append(["stdio", t.input])
    return out


class Worker:
    """One warm sandbox. ``run`` is not thread-safe: one caller at a time."""

    def __init__(self, cfg: ExecConfig, start: bool = True, cpu: int | None = None) -> None:
        self.cfg = cfg
        self.cpu = cpu  # the CPU all of this worker's processes run on (ExecConfig.pin_cpus)
        self.proc: subprocess.Popen | None = None
        self.root: str | None = None
        self._next_id = 0  # request ids: with the test's index, the nonce of each sealed test
        self.key = b""  # the judge's key (protocol.seal), told to us when it starts
        if start:
            self.start()

    def start(self) -> None:
        self.spawn()
        self.handshake()
        self.wait_ready()

    # start() in three steps, so Executor can start several workers in parallel: the slow parts
    # (interpreter start, imports, building the root) then overlap.
    def spawn(self) -> None:
        """Launch the boot process (returns at once)."""
        self.root = tempfile.mkdtemp(prefix="btp-sandbox-")
        os.chmod(self.root, 0o755)
        # nproc: boot, the judge, the zygote and the template run as the program's uid too;
        # hide: absolute, since boot's cwd is /
        spec = {"root": self.root, "disk_mb": self.cfg.disk_mb, "preload": list(self.cfg.preload),
                "fsize_mb": self.cfg.fsize_mb, "nproc": self.cfg.max_processes + 4,
                "hide": [os.path.abspath(p) for p in self.cfg.hide], "cpu": self.cpu}
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-P", "-m", "btp.execution.boot", json.dumps(spec)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            env=_env(), cwd="/", close_fds=True, bufsize=0,
        )
        self.reader = Reader(self.proc.stdout.fileno())

    def handshake(self) -> None:
        """Wait for boot's namespaces, write its uid/gid maps, let it go on."""
        line = self.proc.stdout.readline()
        if line.strip() != b"U":
            self._fail_start(line)
        try:
            _write_maps(self.proc.pid)
        except OSError as e:
            self.close()
            raise BtpError(f"cannot set up the sandbox's user namespace ids: {e}") from None
        self.proc.stdin.write(b"G\n")

    def wait_ready(self) -> None:
        """Block until the zygote says it is ready; boot errors arrive as an "E ..." line instead.
        Before that the judge tells us its key ("K <hex>" line)."""
        head = self.proc.stdout.read(1) or b""
        if head == b"K":
            try:
                self.key = bytes.fromhex(self.proc.stdout.readline().decode("ascii").strip())
            except ValueError:
                self._fail_start(b"")
            head = self.proc.stdout.read(1) or b""
        if head == b"E":
            self._fail_start(head + self.proc.stdout.readline())
        self.reader.buf += head
        try:
            ready = self.reader.read(time.monotonic() + 120)
        except (TimeoutError, FrameError):
            ready = None
        if not ready or len(self.key) != 32:
            self._fail_start(b"")

    def _fail_start(self, line: bytes) -> None:
        msg = line.decode(errors="replace").strip()
        if msg.startswith("E "):
            msg = msg[2:]
        else:
            self._stderr.seek(0)
            err = self._stderr.read().decode(errors="replace").strip().splitlines()
            msg = f"sandbox worker failed to start ({err[-1] if err else 'no message'})"
        self.close()
        raise BtpError(f"execution sandbox: {msg}")

    def run(self, task: Task, program: str) -> dict:
        """Raw results of one program: ``{"raw": [[status, ...], ...], "seconds", "cpu"}``."""
        cfg = self.cfg
        if self.proc is None:  # a restart that failed earlier: try again (raises BtpError if it fails)
            self.start()  # (first: the tests are sealed with its judge's key)
        self._next_id += 1
        req = {
            "id": self._next_id, "program": program, "setup": task.setup or "",
            "entry_point": task.entry_point, "tests": encode_tests(task, self.key, self._next_id),
            "timeout": cfg.timeout, "wall": cfg.wall, "wall_cap": cfg.wall_cap, "memory_mb": cfg.memory_mb,
            "max_output": cfg.max_output_mb * 1024 * 1024,
        }
        try:
            send(self.proc.stdin.fileno(), req)
            resp = self.reader.read(time.monotonic() + 2 * cfg.wall_cap + 35)  # the program, then the judge's grace
        except (OSError, ValueError, TimeoutError, FrameError) as e:
            self.restart()
            raise WorkerDied(str(e)) from None
        if not isinstance(resp, dict) or resp.get("id") != req["id"]:
            self.restart()
            raise WorkerDied("worker gave no answer")
        if resp.get("restart") is True:  # the zygote asks for a fresh worker (its judge grew, its
            # template is gone, a shared pipe could not be put back)
            self.restart()
        return resp

    def restart(self) -> None:
        self.close()
        self.start()

    def close(self) -> None:
        if self.proc is not None:
            for stream in (self.proc.stdin, self.proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        if self.root:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None
