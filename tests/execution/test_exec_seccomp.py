"""The seccomp filter (``btp.execution.seccomp``): denied syscalls get EPERM, the rest still work.

Every check runs in a forked child that installs the filter and reports through a pipe, so the
test process itself stays unfiltered. End-to-end cases (inside the sandbox) are in cases_exec.py.
"""

from __future__ import annotations

import ctypes
import errno
import json
import mmap
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from btp.execution import linux, seccomp

pytestmark = pytest.mark.skipif(seccomp.FILTER is None, reason=f"no syscall table for {seccomp.MACHINE}")

NR = seccomp.ARCHES.get(seccomp.MACHINE, (0, {}))[1]
_libc = ctypes.CDLL(None, use_errno=True)


def _errno(nr: int | str, *args: int) -> int:
    """Run a raw syscall: its errno, or 0 if it succeeded."""
    nr = NR[nr] if isinstance(nr, str) else nr
    ret = _libc.syscall(ctypes.c_long(nr), *(ctypes.c_long(a) for a in args))
    return ctypes.get_errno() if ret == -1 else 0


def _load(filter_bytes: bytes) -> None:
    prog = seccomp._SockFprog(len(filter_bytes) // 8, ctypes.cast(ctypes.c_char_p(filter_bytes), ctypes.c_void_p))
    linux.prctl(linux.PR_SET_NO_NEW_PRIVS, 1)
    linux._check(_libc.prctl(seccomp.PR_SET_SECCOMP, ctypes.c_ulong(seccomp.SECCOMP_MODE_FILTER),
                             ctypes.byref(prog), 0, 0), "seccomp")


def _guard(names) -> bytes:
    """A filter answering ESRCH to ``names``: installed before ours, the guarded syscalls never
    run, and one comes back EPERM only if our filter (the newer one) denies it."""
    prog = [(0x20, 0), *[(0x15, NR[n] if isinstance(n, str) else n, "esrch") for n in names],
            (0x06, seccomp.SECCOMP_RET_ALLOW), "esrch", (0x06, seccomp.SECCOMP_RET_ERRNO | errno.ESRCH)]
    return seccomp.assemble(prog)


def in_child(fn, guard=(), install=True):
    """``fn()`` in a forked child under the filter: (its JSON-able result or None, wait status)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(r)
            if guard:
                _load(_guard(guard))
            if install:
                assert seccomp.install()
            os.write(w, json.dumps(fn()).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    return (json.loads(data) if data else None), status


ARG_CHECKED = ("clone", "clone3", "personality", "setsockopt", "prlimit64", "setpriority", "ioprio_set",
               "socket", "socketpair", "rt_sigaction", *seccomp.SELF_ONLY)  # decided by arguments


def test_tables_and_filter():
    assert len(seccomp.FILTER) % 8 == 0 and len(seccomp.FILTER) // 8 < 4096  # BPF_MAXINSNS
    for machine, (_, table) in seccomp.ARCHES.items():
        assert set(table) - set(seccomp.DENIED) == set(ARG_CHECKED), machine
        assert len(set(table.values())) == len(table), machine
        assert len(seccomp.build(machine)) % 8 == 0
    assert set(seccomp.DENIED) == set(seccomp.X86_64) - set(ARG_CHECKED)
    assert set(seccomp.DENIED) - set(seccomp.AARCH64) == {"uselib", "iopl", "ioperm", "modify_ldt", "inotify_init"}


def _run_bpf(filter_bytes: bytes, nr: int, arch: int, arg0: int, arg1: int = 0, arg2: int = 0) -> int:
    """What classic BPF returns for this seccomp_data (only the opcodes the filter uses)."""
    code = list(struct.iter_unpack("=HBBI", filter_bytes))
    data = struct.pack("=IIQ6Q", nr, arch, 0, arg0, arg1, arg2, 0, 0, 0)
    pc = acc = 0
    while code[pc][0] != 0x06:  # BPF_RET
        op, jt, jf, k = code[pc]
        if op == 0x20:  # BPF_LD | BPF_W | BPF_ABS
            acc, pc = struct.unpack_from("=I", data, k)[0], pc + 1
        else:
            taken = {0x15: acc == k, 0x25: acc > k, 0x35: acc >= k, 0x45: acc & k != 0}[op]
            pc += 1 + (jt if taken else jf)
    return code[pc][3]


@pytest.mark.parametrize("machine", sorted(seccomp.ARCHES))
def test_filter_decides_every_syscall_number(machine):
    audit_arch, table = seccomp.ARCHES[machine]
    names = {nr: name for name, nr in table.items()}
    allow, eperm, enosys = seccomp.SECCOMP_RET_ALLOW, seccomp.SECCOMP_RET_ERRNO | 1, seccomp.SECCOMP_RET_ERRNO | 38
    eafnosupport = seccomp.SECCOMP_RET_ERRNO | errno.EAFNOSUPPORT

    def expected(nr, arg0):
        name = names.get(nr)
        if name in seccomp.DENIED or (machine == "x86_64" and nr >= 0x40000000):
            return eperm
        if name == "clone":
            return eperm if arg0 & seccomp.NAMESPACE_FLAGS else allow
        if name == "personality":
            return allow if arg0 in (0, 0xFFFFFFFF) else eperm
        if name in ("prlimit64", "setpriority", *seccomp.SELF_ONLY):  # (arg1 is 0 here)
            return allow if arg0 == 0 else eperm
        if name in ("socket", "socketpair"):
            return allow if arg0 == socket.AF_UNIX else eafnosupport
        if name == "ioprio_set":
            return allow if arg0 == seccomp.IOPRIO_WHO_PROCESS else eperm
        return enosys if name == "clone3" else allow

    flt = seccomp.build(machine)
    sockopt = table["setsockopt"]
    for level in (0, 1, 6):  # SOL_IP, SOL_SOCKET, SOL_TCP
        for opt in range(40):
            want = eperm if level == 1 and opt in seccomp.SOCKET_BUFFER_OPTIONS else allow
            assert _run_bpf(flt, sockopt, audit_arch, 3, level, opt) == want, (machine, level, opt)
    for name, which in (("setpriority", seccomp.PRIO_PROCESS), ("ioprio_set", seccomp.IOPRIO_WHO_PROCESS)):
        for arg0 in range(4):
            for who in (0, 1, 2, 12345):
                want = allow if (arg0, who) == (which, 0) else eperm
                assert _run_bpf(flt, table[name], audit_arch, arg0, who) == want, (machine, name, arg0, who)
    for sig in (2, 17, 18, 64):
        for act in (0, 1, 0x7FFF0000, 1 << 32, (1 << 47) + 8):
            want = eperm if sig == seccomp.SIGCHLD and act else allow
            assert _run_bpf(flt, table["rt_sigaction"], audit_arch, sig, act) == want, (machine, sig, hex(act))
    for name in ("socket", "socketpair"):
        for family in range(64):
            assert _run_bpf(flt, table[name], audit_arch, family) == expected(table[name], family), (name, family)
    for nr in [*range(1100), 0x40000000 | 39, 0x40000000 | table["unshare"], 0xFFFFFFFF]:
        for arg0 in (0, 0xFFFFFFFF, signal.SIGCHLD, linux.CLONE_NEWUSER | signal.SIGCHLD, 0x02000000, 0x0040000):
            assert _run_bpf(flt, nr, audit_arch, arg0) == expected(nr, arg0), (machine, nr, hex(arg0))
        assert _run_bpf(flt, nr, 0x40000003, 0) == seccomp.SECCOMP_RET_KILL_PROCESS  # AUDIT_ARCH_I386


@pytest.mark.parametrize("header,table", [("/usr/include/x86_64-linux-gnu/asm/unistd_64.h", seccomp.X86_64),
                                          ("/usr/include/asm-generic/unistd.h", seccomp.AARCH64)])
def test_tables_match_kernel_headers(header, table):
    if not Path(header).exists():
        pytest.skip(f"{header} not installed")
    defined = {m[1]: int(m[2]) for m in re.finditer(r"#define __NR(?:3264)?_(\w+)\s+(\d+)\b", Path(header).read_text())}
    checked = {name: nr for name, nr in table.items() if name in defined}
    assert checked == {name: defined[name] for name in checked}
    assert len(checked) >= len(table) - 2  # headers older than a syscall (open_tree_attr) lack it


def test_install_sets_filter_mode():
    status, _ = in_child(lambda: Path("/proc/self/status").read_text())
    assert re.search(r"^Seccomp:\s+2$", status, re.MULTILINE) and re.search(r"^NoNewPrivs:\s+1$", status, re.MULTILINE)


def test_denied_syscalls_get_eperm():
    calls = {"unshare": (linux.CLONE_NEWUSER,), "ptrace": (0, 0, 0, 0), "keyctl": (0, -3, 0), "bpf": (0, 0, 0),
             "perf_event_open": (0, 0, -1, -1, 0), "userfaultfd": (1,), "io_uring_setup": (1, 0),
             "setns": (0, 0), "pidfd_getfd": (0, 0, 0),
             "process_vm_readv": (1, 0, 0, 0, 0, 0)}
    got, status = in_child(lambda: {name: _errno(name, *args) for name, args in calls.items()})
    assert status == 0 and got == {name: errno.EPERM for name in calls}


def test_every_denied_syscall_is_denied():
    """All of DENIED, with a guard filter so that none of them can run (kexec_load, reboot...)."""
    names = [n for n in seccomp.DENIED if n in NR]
    getppid = {"x86_64": 110, "aarch64": 173}[seccomp.MACHINE]
    got, status = in_child(lambda: {n: _errno(n, 0, 0, 0, 0, 0, 0) for n in names} | {"getppid": _errno(getppid)},
                           guard=[*names, getppid])
    assert status == 0
    assert got.pop("getppid") == errno.ESRCH  # the guard is active and our filter allowed getppid
    assert got == {n: errno.EPERM for n in names}


def test_clone_namespace_flags_denied_plain_clone_allowed():
    flags = [linux.CLONE_NEWUSER, linux.CLONE_NEWNS, linux.CLONE_NEWPID, linux.CLONE_NEWNET,
             linux.CLONE_NEWIPC, linux.CLONE_NEWUTS, 0x02000000]

    def body():
        out = []
        for flag in flags:
            ret = _libc.syscall(ctypes.c_long(NR["clone"]), ctypes.c_long(flag | signal.SIGCHLD), *[ctypes.c_long(0)] * 4)
            if ret == 0:
                os._exit(0)  # a child that got through
            out.append(ctypes.get_errno() if ret == -1 else "created")
        pid = _libc.syscall(ctypes.c_long(NR["clone"]), ctypes.c_long(signal.SIGCHLD), *[ctypes.c_long(0)] * 4)
        if pid == 0:
            os._exit(5)
        out.append(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
        return out

    got, status = in_child(body)
    assert status == 0 and got == [errno.EPERM] * len(flags) + [5]


def test_clone3_is_enosys_and_personality_only_queries():
    def body():
        persona = _libc.personality(ctypes.c_ulong(0xFFFFFFFF))
        return [_errno("clone3", 0, 0), persona, _libc.personality(ctypes.c_ulong(persona)) != -1,
                _errno("personality", 0x0040000),  # ADDR_NO_RANDOMIZE
                _errno("personality", 0x0400000)]  # READ_IMPLIES_EXEC

    got, status = in_child(body)
    assert status == 0 and got == [errno.ENOSYS, 0, True, errno.EPERM, errno.EPERM]


def test_prlimit_only_on_itself():
    import resource

    def body():
        pid = os.fork()
        if pid == 0:
            os.read(r, 1)
            os._exit(0)
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        out = []
        for target in (pid, os.getpid()):
            try:
                resource.prlimit(target, resource.RLIMIT_NOFILE, (soft - 1, hard))
                out.append("changed")
            except PermissionError:
                out.append("EPERM")
        resource.prlimit(0, resource.RLIMIT_NOFILE, (soft - 1, hard))
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft - 2, hard))
        out.append(resource.getrlimit(resource.RLIMIT_NOFILE)[0] == soft - 2)
        os.write(w, b"x")
        os.waitpid(pid, 0)
        return out

    r, w = os.pipe()
    got, status = in_child(body)
    assert status == 0 and got == ["EPERM", "EPERM", True]


@pytest.mark.skipif(seccomp.MACHINE != "x86_64", reason="x32 and i386 ABIs are x86_64's")
def test_x32_denied_and_i386_abi_kills():
    got, status = in_child(lambda: _errno(0x40000000 | 39))  # x32 getpid
    assert status == 0 and got == errno.EPERM

    def int80_getpid():
        code = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        code.write(b"\xb8\x14\x00\x00\x00\xcd\x80\xc3")  # mov eax, 20 (i386 getpid); int 0x80; ret
        return ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(code)))()

    got, status = in_child(int80_getpid, install=False)
    if status != 0:
        pytest.skip("no i386 syscall emulation in this kernel")
    got, status = in_child(int80_getpid)
    assert got is None and os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSYS


def test_allowed_things_still_work():
    def body():
        out = []
        t = threading.Thread(target=out.append, args=("thread",))
        t.start()
        t.join()
        pid = os.fork()
        if pid == 0:
            os._exit(7)
        out.append(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
        out.append(subprocess.run([sys.executable, "-c", "print(1)"], capture_output=True, text=True, check=True).stdout)
        a, b = socket.socketpair()
        a.sendall(b"ok")
        out.append(b.recv(2).decode())
        with socket.socket(socket.AF_UNIX):
            pass
        try:
            socket.socket()  # AF_INET: nothing to reach in the sandbox's network namespace
            out.append("inet")
        except OSError as e:
            out.append(e.errno)
        with mmap.mmap(-1, 1 << 20) as m:
            m[:3] = b"abc"
            out.append(m[:3].decode())
        return out

    got, status = in_child(body)
    assert status == 0 and got == ["thread", 7, "1\n", "ok", errno.EAFNOSUPPORT, "abc"]
