"""The template: the process every program process is forked from.

The zygote reads each request (the program, its tests' inputs, its outputs), so its memory,
freed bytes included, holds earlier programs. A program process forked from it started with a
copy of all that (a program scanning its own memory found the text and outputs of the programs
run before it on its worker). So the zygote forks this template once, before the first request,
and the template forks each program process: a copy of a process that never saw a request.

The template only ever receives one-letter commands from the zygote on a socket pair:
``F`` fork a program process (reply: its pid, and the zygote's ends of its three pipes as
``SCM_RIGHTS``), ``R<pid>`` kill and reap it (reply: status, CPU seconds, max RSS in KiB),
``K`` kill every process in the namespace but PID 1 and itself (``kill(-1)`` from a process
that is not PID 1 spares both), reaping its children until it has none.

Unlike PID 1, the template can be killed or stopped by a program (same uid; it is the program
process's parent). The zygote then does the template's work itself (``gone``): it kills and
reaps everything, the template included, and the host replaces the worker after this program,
whose verdict stands (a right answer that killed its parent stays right).
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket

from btp.execution import linux

# imported here, before the template is forked, not in each program process: compiling
# runner.py there cost ~7 ms per program
from btp.execution.runner import runner_main

ANSWER_SECONDS = 5.0  # the template answers at once; past this it is stopped or dead


class TemplateGone(Exception):
    """The template died or stopped answering (a program killed or stopped it)."""


class Forker:
    """The zygote's side: starts the template (call before any request) and asks it."""

    def __init__(self, shared: tuple[int, ...]) -> None:
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.pid = os.fork()
        if self.pid == 0:
            try:
                self.sock.close()
                _template(theirs, shared)
            finally:
                os._exit(70)
        theirs.close()
        self.sock.settimeout(ANSWER_SECONDS)
        self.gone = False  # the template stopped answering: the worker must be replaced

    def _ask(self, cmd: bytes, nfds: int = 0) -> tuple[bytes, list[int]]:
        if self.gone:
            raise TemplateGone("the template is gone")
        try:
            self.sock.sendall(cmd)
            msg, fds, _, _ = socket.recv_fds(self.sock, 256, nfds)
        except OSError as e:  # socket.timeout included
            self.gone = True
            raise TemplateGone(str(e)) from None
        if not msg:
            self.gone = True
            raise TemplateGone("the template exited")
        return msg, fds

    def _end_template(self) -> None:
        """Kill and reap the template: its children (the program process) become ours."""
        self.gone = True
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass

    def fork(self) -> tuple[int, list[int]]:
        """A new program process (``runner.runner_main``): its pid and the zygote's ends of its
        pipes (cmd_w, res_r, out_r)."""
        msg, fds = self._ask(b"F", 3)
        if len(fds) != 3:
            for fd in fds:
                os.close(fd)
            raise TemplateGone("the template sent no pipes")
        return int(msg), fds

    def reap(self, pid: int) -> tuple[int, float, int] | None:
        """Kill and reap program process ``pid``: (wait status, CPU seconds, max RSS KiB), or None
        if it was reaped already."""
        try:
            out = json.loads(self._ask(b"R%d" % pid)[0])
            return None if out is None else (out[0], out[1], out[2])
        except TemplateGone:
            self._end_template()
        return _reap(pid)

    def alive(self) -> bool:
        """False once the template stopped answering or exited (checked without asking it)."""
        if not self.gone:
            try:
                self.gone = os.waitpid(self.pid, os.WNOHANG)[0] == self.pid
            except ChildProcessError:
                self.gone = True
        return not self.gone

    def close(self) -> None:
        """End the template and reap it, so the CPU time of the program processes it reaped counts
        in ours (and up to the host's ``RUSAGE_CHILDREN``)."""
        self.sock.close()
        self._end_template()

    def kill_all(self) -> None:
        """SIGKILL every process in this PID namespace but PID 1 (the zygote, which calls this)
        and the template, and reap them all: the template reaps its children, we the orphans.
        If the template is gone, everything goes, the template too."""
        try:
            self._kill_all_but_template()
        except TemplateGone:
            self.gone = True
            _kill_all()

    def _kill_all_but_template(self) -> None:
        spared = {"1", str(self.pid)}
        while True:
            if self._ask(b"K")[0] == b"k":
                return  # its last kill(-1) found no process: no orphan either
            while True:
                try:
                    pid, _ = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    raise TemplateGone("the template is gone") from None
                if pid == self.pid:
                    raise TemplateGone("the template died")
                if pid == 0:
                    break
            if all(n in spared for n in os.listdir("/proc") if n.isdigit()):
                return
            select.select([], [], [], 0.001)  # an orphan still dying: not reapable yet


def _template(sock: socket.socket, shared: tuple[int, ...]) -> None:
    linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)  # gone with the zygote
    os.chdir("/")  # not /tmp: that tmpfs is replaced between programs, and a cwd would pin it
    keep = {sock.fileno(), *shared}
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep:
            try:
                os.close(fd)  # the host's pipes, the judge's, the zygote's /proc files
            except OSError:
                pass
    while True:
        try:
            cmd = sock.recv(64)
        except OSError:
            os._exit(0)
        if not cmd:
            os._exit(0)
        if cmd == b"F":
            cmd_r, cmd_w = os.pipe()
            res_r, res_w = os.pipe()
            out_r, out_w = os.pipe()
            pid = os.fork()
            if pid == 0:
                sock.close()
                runner_main(cmd_r, res_w, out_w, *shared)
                os._exit(70)
            for fd in (cmd_r, res_w, out_w):
                os.close(fd)
            socket.send_fds(sock, [b"%d" % pid], [cmd_w, res_r, out_r])
            for fd in (cmd_w, res_r, out_r):
                os.close(fd)
        elif cmd[:1] == b"R":
            sock.send(json.dumps(_reap(int(cmd[1:]))).encode())
        elif cmd == b"K":
            sock.send(b"k" if _kill_all() else b"o")  # o: orphans are left for PID 1 to reap


def _reap(pid: int):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        _, status, ru = os.wait4(pid, 0)
    except ChildProcessError:
        return None
    return [status, ru.ru_utime + ru.ru_stime, ru.ru_maxrss]


def _kill_all() -> bool:
    """Signals again before each wait, so nothing forked mid-kill outlives the loop. True if the
    last signal found no process at all (not even a zombie): nothing is left to reap."""
    while True:
        try:
            os.kill(-1, signal.SIGKILL)
            clean = False
        except ProcessLookupError:
            clean = True
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return clean
