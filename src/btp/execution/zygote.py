"""The zygote: PID 1 of a worker's PID namespace. Warm (modules pre-imported), never runs user code.

For each request from the host it hands the program to a pre-forked program process
(``runner.runner_main``), feeds tests one at a time with fresh nonces, watches CPU, memory and
wall time, then kills every other process in the namespace (``kill(-1, SIGKILL)`` from PID 1)
and reaps them, replies to the host, and replaces /tmp with an empty tmpfs.

As PID 1 it cannot be killed by programs: the kernel drops signals from inside the namespace to
PID 1 unless PID 1 installed a handler, and it installs none.
"""

from __future__ import annotations

import fcntl
import gc
import importlib
import os
import select
import signal
import struct
import time

from btp.execution import boot, linux, seccomp
from btp.execution.forker import Forker, TemplateGone
from btp.execution.protocol import MAX_FRAME, FrameError, Reader, send
from btp.execution.protocol import encode as encode_frame
from btp.execution.runner import set_worker_limits

TIMEOUT_SIGNALS = (signal.SIGXCPU, signal.SIGPROF)


class Child:
    """One program process, forked by the template (``forker``), and the zygote's ends of its three
    pipes (it also inherits ``shared``: the program's ends of the judge's call pipes, and the
    worker's stdin memfd)."""

    def __init__(self, forker: Forker) -> None:
        self.forker = forker
        self.pid, (self.cmd_w, self.res_r, self.out_r) = forker.fork()
        os.set_blocking(self.out_r, False)
        os.set_blocking(self.cmd_w, False)  # see _send: never stuck behind a program that stops reading
        self.pidfd = os.pidfd_open(self.pid)
        self.reader = Reader(self.res_r)
        self.out = bytearray()
        self.overflow = False
        self.out_eof = False
        self.status: int | None = None
        self.cpu_seconds = 0.0  # user + system, once reaped
        self.maxrss_kb = 0
        self.memory = 0  # bytes program_usage may reach
        self.budget = 0.0  # CPU seconds it may reach
        self.next_check = 0.0  # when to check it next (monotonic)

    def drain(self, cap: int) -> None:
        while True:
            try:
                chunk = os.read(self.out_r, 1 << 16)
            except BlockingIOError:
                return
            if not chunk:
                self.out_eof = True
                return
            if len(self.out) + len(chunk) > cap:
                self.overflow = True
            else:
                self.out += chunk

    def take_output(self, cap: int) -> tuple[str, bool]:
        self.drain(cap)
        text = self.out.decode("utf-8", "surrogateescape")
        overflow = self.overflow
        self.out, self.overflow = bytearray(), False
        return text, overflow

    def reap(self) -> None:
        if self.status is None:
            reaped = self.forker.reap(self.pid)
            if reaped is None:  # cannot happen: only the template (or we, once it is gone) reap
                raise TemplateGone("a program process was reaped behind the zygote's back")
            self.status, self.cpu_seconds, self.maxrss_kb = reaped

    def cpu(self) -> float:
        return self.cpu_seconds

    def close(self) -> None:
        for fd in (self.cmd_w, self.res_r, self.out_r, self.pidfd):
            try:
                os.close(fd)
            except OSError:
                pass


class Judge:
    """The zygote's link to the worker's judge process (``judge.serve``, started by ``boot`` outside
    this PID namespace): one program at a time, one test at a time.

    The judge's calls to the program and the replies use their own pipes (``call_r``/``back_w``
    are the program's ends, inherited by each program process); the zygote only starts tests,
    collects verdicts, and cleans up after a program it gave up on."""

    def __init__(self, cmd_w: int, res_r: int, call_r: int, back_w: int, back_r: int) -> None:
        self.cmd_w, self.res_r = cmd_w, res_r
        self.call_r, self.back_w, self.back_r = call_r, back_w, back_r
        self.reader = Reader(res_r)
        self.busy = False  # a test was sent and its verdict not read yet
        self.grown = False  # the judge asked for a fresh worker (it grew past its allowance)
        self.sched: tuple[int, ...] = ()  # schedstat files of the zygote and the judge (Deadline)

    @property
    def program_ends(self) -> tuple[int, int]:
        """What each program process inherits: the read end of the calls, the write end of replies."""
        return self.call_r, self.back_w

    def start(self, head: dict) -> None:
        send(self.cmd_w, {"head": head})

    def test(self, code: str) -> None:
        send(self.cmd_w, {"code": code})
        self.busy = True

    def verdict(self, deadline: Deadline, child: Child | None = None, cap: int = 0) -> str:
        """The running test's verdict. Meanwhile drains ``child``'s stdout and raises Death("dead")
        if it exits, Death("timeout") past ``deadline``; JudgeGone if the judge is gone."""
        while True:
            try:
                frame = self.reader.pop()
            except FrameError:
                raise JudgeGone("judge sent a bad frame") from None
            if frame is not None:
                if not (isinstance(frame, list) and len(frame) in (2, 3) and frame[0] == "verdict"):
                    raise JudgeGone("judge sent an unknown frame")
                self.grown |= frame[2:] == ["restart"]
                self.busy = False
                return frame[1]
            if self.reader.eof:
                raise JudgeGone("judge exited")
            fds = [self.res_r]
            if child is not None:
                fds += [child.pidfd] + ([] if child.out_eof else [child.out_r])
            ready = _select(fds, deadline, child)
            if self.res_r in ready:
                self.reader.feed()
            elif child is not None and child.out_r in ready:
                child.drain(cap)
            elif child is not None and child.pidfd in ready:
                raise Death("dead")

    def settle(self, grace: float, cap: float) -> None:
        """After giving up on a program mid-test: tell the judge (a frame on its command pipe, which
        it watches during every call) and empty the call pipe until it sends the test's verdict
        (its CPU limit bounds the wait, so ``grace`` only grows by its and our run delay, up to
        ``cap``), so the next program starts clean."""
        send(self.cmd_w, ["abort"])
        deadline = Deadline(grace, self.sched, cap)
        while self.busy:
            left = deadline.left()
            ready = select.select([self.res_r, self.call_r], [], [], left)[0] if left > 0 else []
            if not ready:
                raise JudgeGone("judge did not finish an aborted test")
            if self.call_r in ready:
                os.read(self.call_r, 1 << 16)
            if self.res_r in ready:
                try:
                    self.verdict(deadline)
                except Death:
                    raise JudgeGone("judge did not finish an aborted test") from None

    def clear(self) -> None:
        """Between programs (every program process is gone): drop what is left in the call pipes."""
        for fd in (self.call_r, self.back_r):
            while select.select([fd], [], [], 0)[0] and os.read(fd, 1 << 16):
                pass



class JudgeGone(Exception):
    """The judge process died or stopped following the protocol: this worker must be restarted."""


class Death(Exception):
    """The program process stopped answering; ``outcome`` is what unfinished tests get."""

    def __init__(self, outcome: str) -> None:
        self.outcome = outcome


def _await(child: Child, nonce: str, deadline: Deadline, cap: int) -> list:
    """The next frame from ``child`` carrying ``nonce``; raises Death on anything else."""
    dead = False
    while True:
        try:
            frame = child.reader.pop()
        except FrameError:
            raise Death("error") from None
        if frame is not None:
            if not (isinstance(frame, list) and len(frame) >= 2 and frame[0] == nonce):
                raise Death("error")  # forged or corrupted result channel
            _poll(child, time.monotonic())  # also after a long parse: no select came between (a
            return frame[1:]  # program computed meanwhile, past its budget)
        if dead or (child.reader.eof and child.out_eof):
            raise Death("dead")
        fds = [child.pidfd] + [fd for fd, eof in ((child.out_r, child.out_eof),
                                                  (child.res_r, child.reader.eof)) if not eof]
        ready = _select(fds, deadline, child)
        if child.out_r in ready:
            child.drain(cap)
        if child.res_r in ready:
            child.reader.feed()
        if child.pidfd in ready:  # exited: collect what it wrote before dying, then give up
            child.drain(cap)
            while not child.reader.eof and _readable(child.res_r) and child.reader.feed():
                pass
            dead = True


POLL = 0.02  # seconds between checks of the program's total memory and CPU time while it runs
TICK = os.sysconf("SC_CLK_TCK")  # units of the CPU times in /proc/<pid>/stat


def program_delay(pid: int) -> float:
    """Run delay (seconds) of process ``pid``: that of its most delayed thread (a sum would
    credit threads that only wait for each other)."""
    total = 0.0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0  # exited meanwhile
    for tid in tids:
        try:
            fd = os.open(f"/proc/{pid}/task/{tid}/schedstat", os.O_RDONLY)
        except OSError:
            continue
        try:
            total = max(total, linux.run_delay(fd))
        finally:
            os.close(fd)
    return total


def _forked(spared: set, pid: int) -> bool:
    """Whether the program forked: this PID namespace holds a process beyond ``spared``, or
    program process ``pid`` has reaped children that used CPU (a program reaped its spinning
    children just before each check it could predict, and held its worker until the cap)."""
    if any(n not in spared for n in os.listdir("/proc") if n.isdigit()):
        return True
    try:
        return sum(_cpu_ticks(_read(f"/proc/{pid}/stat"))[2:]) > 0  # cutime, cstime
    except OSError:
        return False


class Deadline:
    """The wall-clock backstop of one program: ``wall`` seconds after its start, plus the time the
    program process (its threads), the zygote and the judge spent runnable but waiting for a CPU
    (the kernel's run delay). On a loaded machine a program that computes is then stopped by its
    CPU limit, as on a quiet one, and one that sleeps or blocks by the backstop; never later than
    ``cap`` seconds after its start. Only a program that runs as one process moves it: while it
    has forked processes nothing does (a program that slept, or woke every 0.5 ms, while 30
    children spun held its worker until ``cap``: it and the zygote waited behind them).

    ``sched`` holds open schedstat files of the long-lived zygote and judge (their delay counts
    from now); without it this is a plain deadline. ``template`` (its pid) makes it a program's
    backstop, to which the one-process rule applies; without it (the judge's grace after an
    aborted test) the zygote's and the judge's delay always count. Read only when the nominal
    time has come."""

    def __init__(self, wall: float, sched: tuple[int, ...] = (), cap: float = 0.0,
                 template: int | None = None) -> None:
        self.started = time.monotonic()
        self.wall = wall
        self.cap = max(cap, wall)
        self.at = self.started + wall
        self.sched = sched
        self.base = sum(linux.run_delay(fd) for fd in sched)
        self.pid = 0  # the program process of the moment, set by run_request (its delay counts)
        self.template = template
        self.banked = 0.0  # delay of program processes that died part-way (stdio tests)

    def bank(self) -> None:
        """Keep the delay of the program process ``pid``, which died: read before it is reaped
        (its /proc entry goes then); the next one starts from 0."""
        if self.sched and self.pid:
            self.banked += program_delay(self.pid)
        self.pid = 0

    def left(self) -> float:
        """Seconds to the backstop (<= 0: it has come), moved later by the delay seen so far."""
        now = time.monotonic()
        if now >= self.at and self.sched:
            if self.template is None or not _forked({"1", str(self.template), str(self.pid)}, self.pid):
                waited = (self.banked + (program_delay(self.pid) if self.pid else 0.0)
                          + sum(linux.run_delay(fd) for fd in self.sched) - self.base)
                self.at = max(self.at, min(self.started + self.wall + waited, self.started + self.cap))
        return self.at - now


HOST_IN = 0  # the host's requests: it sends none while a program runs, so readable = it is gone


def _host_gone(ready: list) -> None:
    """Exit (the kernel then kills everything in our PID namespace, and boot follows) if the host
    closed our request pipe while a program runs: without this a sandbox outlived a killed host
    until the program's backstop."""
    if HOST_IN in ready:
        os._exit(0)


def _select(fds: list, deadline: Deadline, child: Child | None) -> list:
    """Wait until one of ``fds`` is readable: Death("timeout") past ``deadline`` or past ``child``'s
    CPU budget, Death("memory") if its program holds more than its limit (``program_usage``,
    checked every POLL s however busy the fds keep us); exits if the host is gone."""
    while True:
        wait = _wait_time(child, deadline)
        ready = select.select(fds + [HOST_IN], [], [], wait)[0]
        _host_gone(ready)
        if ready:
            return ready


def _wait_time(child: Child | None, deadline: Deadline) -> float:
    """How long the zygote may block now: Death("timeout") past ``deadline``; Death("memory") or
    Death("timeout") if ``child``'s program is over its memory limit or CPU budget (checked when
    POLL s have passed since the last check)."""
    left = deadline.left()
    if left <= 0:
        raise Death("timeout")
    if child is None:
        return left
    now = time.monotonic()
    _poll(child, now)
    return min(left, child.next_check - now)


def _poll(child: Child, now: float) -> None:
    """Check ``child``'s program against its limits if POLL s have passed since the last check."""
    if now >= child.next_check:
        _check_usage(child)
        child.next_check = now + POLL


def _check_usage(child: Child) -> None:
    memory, cpu = program_usage(child.pid, child.forker.pid)
    if memory > child.memory:
        raise Death("memory")
    if cpu > child.budget:
        raise Death("timeout")


def program_usage(program_pid: int, template_pid: int) -> tuple[int, float]:
    """What the program holds and has used: (bytes of memory, CPU seconds), over every process in
    this PID namespace but PID 1 and the template.

    Memory: resident anonymous and shared memory, page tables and swap (``MADV_PAGEOUT`` held
    800 MiB in swap under 256 MiB), except the program process's
    anonymous memory up to its data size (``VmData``), which ``RLIMIT_DATA`` bounds (so a program
    that built 300 MB and forked a worker, which shares those pages, counts them once, and
    ordinary single-process verdicts never depend on timing). ``RLIMIT_DATA`` alone bounds none
    of the rest: it counts writable private mappings, so a filled mapping made read-only
    with ``mprotect`` leaves it (1.5 GiB were held under 256 MiB); ``MAP_SHARED`` anonymous memory,
    stack mappings (``MAP_GROWSDOWN``, a piece of the stack moved with ``mremap``) and page tables
    (a huge read-only mapping, read through, costs 4 KiB of them per 2 MiB and no RSS: 2.8 GB of
    kernel memory) are never data; and N forked processes get ``memory_mb`` each. Pages shared
    between forked processes count in each of them. A process whose main thread exited has no
    memory fields itself (its leader's ``mm`` is gone): a live thread's count.

    CPU: user + system time of each process and of the children it reaped (zombies and processes
    the program reaped included; the orphans PID 1 inherits stay zombies until the program is
    over, and seccomp refuses the ``SIGCHLD`` dispositions that would let children vanish
    unaccounted). The program process's own timer and ``RLIMIT_CPU`` stop an honest program at
    its budget exactly; this catches one that cancels that timer, ignores ``SIGXCPU``, or splits
    its work over forked processes (each with an ``RLIMIT_CPU`` of its own): 2.5 s of CPU passed
    a 1 s budget that way."""
    kb = ticks = 0
    for name in os.listdir("/proc"):
        if not name.isdigit() or name == "1" or int(name) == template_pid:
            continue
        try:
            cpu = sum(_cpu_ticks(_read(f"/proc/{name}/stat")))
            text = _memory_status(f"/proc/{name}")
            if text is None:  # a zombie leader (its main thread exited): a live thread's
                text = next(filter(None, (_memory_status(f"/proc/{name}/task/{tid}")
                                          for tid in os.listdir(f"/proc/{name}/task"))), b"")
        except OSError:
            continue  # exited meanwhile
        anon = (linux.status_kb(text, b"RssAnon") or 0) + (linux.status_kb(text, b"VmSwap") or 0)
        if int(name) == program_pid:  # beyond its data size: stack, read-only (mprotect-ed) memory
            anon = max(0, anon - (linux.status_kb(text, b"VmData") or 0))
        kb += anon + (linux.status_kb(text, b"RssShmem") or 0) + (linux.status_kb(text, b"VmPTE") or 0)
        ticks += cpu
    return kb * 1024, ticks / TICK


def _cpu_ticks(stat: bytes) -> list[int]:
    """utime, stime, cutime, cstime (clock ticks) from a /proc/<pid>/stat text ([] if cut short)."""
    fields = stat.rsplit(b")", 1)[-1].split()
    return [int(f) for f in fields[11:15]] if len(fields) > 14 else []


def _read(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 4096)
    finally:
        os.close(fd)


def _memory_status(path: str) -> bytes | None:
    """``path``'s status, or None if it has no memory of its own (a thread that exited; a process
    whose main thread did)."""
    try:
        status = _read(f"{path}/status")
    except OSError:
        return None
    return None if linux.status_kb(status, b"RssAnon") is None else status


def _send(child: Child, obj, deadline: Deadline, cap: int) -> None:
    """Write a command to the program process, draining its stdout meanwhile; a program that stops
    reading (or fills its command pipe itself, through /proc/self/fd) is a Death at ``deadline``,
    not a zygote blocked in write()."""
    view = memoryview(encode_frame(obj))
    while view:
        try:
            view = view[os.write(child.cmd_w, view):]
            continue
        except BlockingIOError:
            pass
        readable, _, _ = select.select([child.pidfd, HOST_IN] + ([] if child.out_eof else [child.out_r]),
                                       [child.cmd_w], [], _wait_time(child, deadline))
        _host_gone(readable)
        if child.out_r in readable:
            child.drain(cap)
        if child.pidfd in readable:
            raise Death("dead")


def _readable(fd: int) -> bool:
    return bool(select.select([fd], [], [], 0)[0])


def _death_outcome(child: Child, req: dict, budget: float, error: Death | OSError) -> str:
    """Why the program process stopped: timeout, memory, error, or exit0 (exited with status 0)."""
    child.reap()
    if isinstance(error, Death) and error.outcome in ("timeout", "error", "memory"):
        return error.outcome  # wall-clock backstop, a forged/corrupted channel, total memory
    st = child.status
    if os.WIFSIGNALED(st):
        sig = os.WTERMSIG(st)
        if sig in TIMEOUT_SIGNALS or (sig == signal.SIGKILL and child.cpu() >= budget - 0.05):
            return "timeout"
    if child.maxrss_kb * 1024 >= 0.9 * req["memory_mb"] * 1024 * 1024:
        return "memory"
    if os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0:
        return "exit0"
    return "error"


VALUE_CAP = 4 << 20  # characters of a call test's JSON value: more is a failed test (the host
# decodes it, ~25x larger in memory for deeply nested lists)


def _reply_to_raw(kind: str, reply: list, child: Child, cap: int) -> list:
    if kind == "stdio" and reply[0] == "done":
        text, overflow = child.take_output(cap)
        return ["fail"] if overflow else ["stdout", text]
    if kind == "call" and reply[0] == "value" and len(reply) == 2 and isinstance(reply[1], str):
        return ["value", reply[1]] if len(reply[1]) <= VALUE_CAP else ["fail"]
    if reply[0] in ("fail", "error", "memory") or (kind == "assert" and reply[0] == "pass"):
        return [reply[0]]
    raise Death("error")  # a status this kind of test cannot produce


class _Run:
    """State of one request: which test is next, and the raw results so far."""

    def __init__(self, req: dict, judge: Judge) -> None:
        self.req = req
        self.tests = req["tests"]
        self.n = len(self.tests)
        self.raw: list = [None] * self.n
        self.i = 0
        self.cap = req["max_output"]
        self.kept = 0  # characters of output and values kept for the host so far
        self.sent = 0  # ... and (at most) their bytes in the reply frame
        self.names: dict = {}
        self.judge = judge
        self.judge_started = False  # told about this program (at its first assert test)

    def drive(self, child: Child, budget: float, deadline: Deadline) -> None:
        req = self.req
        child.memory = req["memory_mb"] * 1024 * 1024
        child.budget = budget
        child.next_check = time.monotonic() + POLL  # programs done within POLL are never polled
        # its replies: statuses, names, a value of VALUE_CAP characters (ASCII JSON, at most 2 bytes
        # each once escaped again); more is a forged channel. It was memory_mb: the zygote, which no
        # limit bounds, decoded 1 GB of "[]," into 25 GB of lists
        child.reader.max_frame = min(child.memory, 4 * VALUE_CAP) + (1 << 20)
        nonce = os.urandom(16).hex()
        _send(child, {"nonce": nonce, "program": req["program"], "setup": req["setup"],
                      "entry_point": req["entry_point"], "cpu": max(budget, 0.01), "memory_mb": req["memory_mb"],
                      "load": any(k != "stdio" for k, _ in self.tests)}, deadline, self.cap)
        reply = _await(child, nonce, deadline, self.cap)
        if reply[0] != "ok":
            out = reply[0] if reply[0] == "memory" else "error"
            self.raw[self.i:] = [[out]] * (self.n - self.i)
            self.i = self.n
            return
        self.names = reply[1] if len(reply) > 1 and isinstance(reply[1], dict) else {}
        while self.i < self.n:
            kind, payload = self.tests[self.i]
            child.take_output(self.cap)
            raw = self.judged(child, payload, budget, deadline) if kind == "assert" else None
            if raw is None:  # not an assert test, or one the judge hands back
                nonce = os.urandom(16).hex()
                # a handed-back test's code goes to the program from the judge (we hold it sealed)
                _send(child, {"nonce": nonce, "kind": kind, "payload": None if kind == "assert" else payload},
                      deadline, self.cap)
                reply = _await(child, nonce, deadline, self.cap)
                raw = _reply_to_raw(kind, reply, child, self.cap)
                if kind == "assert":
                    raw = raw + ["inprocess"]
            self.raw[self.i] = self.bounded(raw)
            self.i += 1

    def bounded(self, raw: list) -> list:
        """``raw``, or a failed test once the program's outputs and values kept for the host pass
        4 x ``max_output`` characters together (each test's alone is capped; 50 tests of 100 MB
        each made the zygote hold them all), or half the host's frame limit once escaped as JSON
        (a control character takes 6 bytes: 60 MB of them made the reply too large to read)."""
        if raw[0] in ("stdout", "value"):
            text = raw[1]
            self.kept += len(text)
            # escaped, a character takes at most 12 bytes (an astral one: a surrogate pair); + its list
            self.sent += 32 + (len(encode_frame(text)) if len(text) > 4096 else 12 * len(text))
            if self.kept > 4 * self.cap or self.sent > MAX_FRAME // 2:
                return ["fail"]
        return raw

    def judged(self, child: Child, code: str, budget: float, deadline: Deadline) -> list | None:
        """Run one assert test in the judge (its calls go straight to the program); None = hand
        the test back to run in the program's interpreter."""
        judge = self.judge
        if not self.judge_started:
            judge.start({"setup": self.req["setup"], "names": self.names, "cpu": max(budget, 0.01),
                         "memory_mb": self.req["memory_mb"],
                         "entry_point": self.req["entry_point"]})
            self.judge_started = True
        judge.test(code)
        verdict = judge.verdict(deadline, child, self.cap)
        if verdict == "inprocess":
            return None
        if verdict in ("pass", "fail", "error", "memory", "timeout"):
            return [verdict]
        raise JudgeGone(f"unknown verdict {verdict!r}")


def run_request(req: dict, child: Child | None, judge: Judge, forker: Forker) -> dict:
    """Run one program on its tests; returns the raw per-test results for the host.

    Unfinished tests of a program that dies get the cause (timeout, memory, error). Stdio tests
    are independent runs, so after a death that is not a timeout the next one gets a fresh process.
    """
    run = _Run(req, judge)
    deadline = Deadline(req["wall"], judge.sched, req["wall_cap"], template=forker.pid)
    budget = float(req["timeout"])
    while run.i < run.n:
        child = child or Child(forker)
        deadline.pid = child.pid
        try:
            run.drive(child, budget, deadline)
        except (Death, OSError) as e:
            deadline.bank()
            cause = _death_outcome(child, req, budget, e)
            # its CPU and that of what it left (an exit0 per stdio test whose work a child did got
            # a fresh budget each time; so did output printed while the zygote waited elsewhere)
            used = child.cpu() + program_usage(0, forker.pid)[1]
            if used > budget:
                cause = "timeout"
            i = run.i
            if i < run.n and run.tests[i][0] == "stdio" and cause != "timeout":
                if cause == "exit0":  # os._exit(0) after printing: judge what it printed
                    text, overflow = child.take_output(run.cap)
                    run.raw[i] = ["fail"] if overflow else run.bounded(["stdout", text])
                else:
                    run.raw[i] = [cause]
                run.i += 1
            else:
                run.raw[i:] = [["error" if cause == "exit0" else cause]] * (run.n - i)
                run.i = run.n
        if run.i < run.n:  # died part-way (already reaped): charge what it used to the budget
            budget -= used
            child.close()
            child = None
            forker.kill_all()  # what it forked must not live on into the next test's process
        if run.i < run.n and (budget <= 0 or deadline.left() <= 0):
            run.raw[run.i:] = [["timeout"]] * (run.n - run.i)
            break
    seconds = time.monotonic() - deadline.started
    if judge.busy:
        judge.settle(grace=float(req["timeout"]) + 5.0, cap=req["wall_cap"])
    if child is not None:
        child.close()  # finished normally; killed and reaped by forker.kill_all() with the rest
    return {"id": req["id"], "raw": run.raw, "seconds": seconds}


def fd_state(fds) -> dict:
    """What a program could change in the open file descriptions it shares with the zygote (and,
    through it, with the next program): status flags (O_NONBLOCK made the next program's large
    replies to the judge fail), for pipes the capacity, and the inode's mode."""
    state = {}
    for fd in fds:
        try:
            size = fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ)
        except OSError:
            size = None  # not a pipe (the stdin memfd)
        state[fd] = (fcntl.fcntl(fd, fcntl.F_GETFL), size, os.fstat(fd).st_mode & 0o7777)
    return state


_OFD_UNLOCK_ALL = struct.pack("hhqqi4x", fcntl.F_UNLCK, 0, 0, 0, 0)  # struct flock, whole file


def restore_fds(state: dict) -> None:
    """Put the shared descriptions back as ``fd_state`` found them (between programs, before the
    zygote reads or writes them), and their inodes' modes (``fchmod(7, 0)`` made every later
    ``open('/dev/stdin')`` fail). Also drop what a program can attach to a description and would
    outlive it: the signal-driven I/O owner and signal (``O_ASYNC`` + ``F_SETOWN`` to the template
    + ``F_SETSIG`` SIGKILL killed it when the zygote next read the pipe), a lease (a read lease on
    the stdin memfd made later programs' ``open('/dev/stdin', 'r+')`` block), ``flock`` and
    open-file-description locks."""
    for fd, (flags, size, mode) in state.items():
        if fcntl.fcntl(fd, fcntl.F_GETFL) != flags:
            fcntl.fcntl(fd, fcntl.F_SETFL, flags)
        fcntl.fcntl(fd, fcntl.F_SETOWN, 0)  # (F_GETOWN cannot even read a process-group owner of 1)
        fcntl.fcntl(fd, fcntl.F_SETSIG, 0)
        if size is None and fcntl.fcntl(fd, fcntl.F_GETLEASE) != fcntl.F_UNLCK:  # (memfd only)
            fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
        fcntl.flock(fd, fcntl.LOCK_UN)
        fcntl.fcntl(fd, fcntl.F_OFD_SETLK, _OFD_UNLOCK_ALL)
        if size is not None and fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ) != size:
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, size)
        if os.fstat(fd).st_mode & 0o7777 != mode:
            os.fchmod(fd, mode)


def fresh_scratch(disk_mb: int, pristine: tuple) -> tuple:
    """Make /tmp an empty tmpfs again: replace it (the old one is detached and freed), unless the
    program left no trace in it (``_scratch_state`` equals ``pristine``, the state of the empty
    tmpfs; with host directories bound into /tmp, ``pristine`` is empty and it is always replaced).
    Returns the ``pristine`` of the /tmp now there (a new tmpfs has other times: keeping the first
    one's state replaced /tmp after every program once one had written there)."""
    if pristine and _scratch_state() == pristine:
        return pristine  # a new mount costs ~0.3 ms and an RCU grace period for the detach
    linux.umount2("/tmp", linux.MNT_DETACH)
    boot.mount_scratch("", disk_mb)
    os.chdir("/tmp")
    return _scratch_state() if pristine else ()


def _scratch_state() -> tuple:
    """What a program could change in an empty /tmp: mode, owner, entries (and, through the change
    time, files created and deleted, times set, inode flags, extended attributes)."""
    st = os.stat("/tmp")
    return (st.st_mode, st.st_uid, st.st_gid, st.st_nlink, st.st_mtime_ns, st.st_ctime_ns,
            os.listdir("/tmp"), os.listxattr("/tmp"))


def serve(spec: dict) -> None:
    """Answer requests from the host on fds 0 (in) and 1 (out) until EOF.

    If the judge is gone the zygote exits without answering: the host restarts the worker and the
    program in hand gets error outcomes (as for any worker failure)."""
    os.write(spec["judge_go"], b"G")  # we are in the new root now: the judge may import
    boot.expect_judge(os.read(spec["judge_ready"], 512), b"R")
    for fd in (spec["judge_go"], spec["judge_ready"]):
        os.close(fd)
    judge = Judge(*spec["judge_fds"], *spec["call_fds"])
    judge.sched = tuple(fd for fd in (linux.open_schedstat("/proc/self/schedstat"), spec.get("judge_sched"))
                        if fd is not None)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    # a session and process group of our own: boot, the judge and the host are in the host's
    # group, which a program could otherwise signal (kill(0, ...)) or renice as a group
    os.setsid()
    linux.prctl(linux.PR_SET_DUMPABLE, 0)
    linux.drop_bounding_set()  # inherited by every program process; raises if the kernel refuses
    stdin_fd = os.memfd_create("btp-stdin")  # before the filter, which denies memfd_create
    try:
        seccomp.install()  # also inherited: one filter for the zygote and all it forks
    except OSError as e:
        boot.fail(f"cannot install the sandbox's seccomp filter ({e})")
    for name in spec.get("preload", ()):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a missing optional module is not fatal
            pass
    set_worker_limits(spec["fsize_mb"], spec["nproc"])
    gc.collect()
    gc.freeze()  # forked children then do not copy-on-write every object during garbage collection
    os.chdir("/tmp")
    pristine = () if boot.tmp_binds() else _scratch_state()
    host_in, host_out = 0, 1
    reader = Reader(host_in)
    send(host_out, {"ready": True, "pid": os.getpid()})
    shared = (*judge.program_ends, stdin_fd)
    shared_state = fd_state(shared)
    try:
        forker = Forker(shared)  # before any request: every program process is a copy of it
        child: Child | None = Child(forker)
    except TemplateGone as e:
        boot.fail(f"cannot start the sandbox's program template ({e})")
    while True:
        req = reader.read()
        if req is None:
            break
        try:
            resp = run_request(req, child, judge, forker)
            forker.kill_all()  # before replying: nothing the program started still exists
        except (JudgeGone, TemplateGone):
            os._exit(75)
        try:  # leave nothing of this program to the next one
            restore_fds(shared_state)  # first: reading a pipe it set up for SIGIO signals its owner
            os.ftruncate(stdin_fd, 0)  # free what the last stdin (or the program) put there
            judge.clear()
            pristine = fresh_scratch(spec["disk_mb"], pristine)
        except OSError:  # e.g. a pipe it shrank cannot grow back while its uid is over
            resp["restart"] = True  # fs.pipe-user-pages-soft: the host replaces this worker
        if judge.grown:
            resp["restart"] = True  # the host replaces this worker after this program
        if not forker.alive():  # the program killed or stopped it: no pristine copy is left
            resp["restart"] = True
        send(host_out, resp)
        if resp.get("restart"):
            break
        try:
            child = Child(forker)
        except TemplateGone:
            os._exit(75)
    forker.kill_all()  # (does the template's work itself if it is gone)
    forker.close()
