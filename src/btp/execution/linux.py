"""Thin ctypes wrappers for the Linux calls the sandbox needs (Python 3.11 has no os.unshare/mount).

Every wrapper raises ``OSError`` with the real errno, so callers can turn failures into one-line
``BtpError`` messages naming what the kernel refused.
"""

from __future__ import annotations

import ctypes
import os

# The C library the interpreter is linked with (dlopen(NULL)); not ctypes.util.find_library, which
# imports subprocess and threading into the zygote and so makes every per-program fork dearer.
_libc = ctypes.CDLL(None, use_errno=True)

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MNT_DETACH = 2

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4

# statvfs f_flag bits (ST_*) -> mount flags, so a read-only remount keeps locked flags.
_ST_TO_MS = {1: MS_RDONLY, 2: MS_NOSUID, 4: MS_NODEV, 8: MS_NOEXEC, 1024: MS_NOATIME,
             2048: MS_NODIRATIME, 4096: MS_RELATIME}


def _check(ret: int, what: str) -> int:
    if ret == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return ret


def unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    _check(_libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {target}")


def umount2(target: str, flags: int) -> None:
    _check(_libc.umount2(target.encode(), ctypes.c_int(flags)), f"umount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    SYS_pivot_root = 155  # x86_64
    if os.uname().machine == "aarch64":
        SYS_pivot_root = 41
    _check(_libc.syscall(ctypes.c_long(SYS_pivot_root), new_root.encode(), put_old.encode()), "pivot_root")


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    return _check(_libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg2), ctypes.c_ulong(arg3),
                              ctypes.c_ulong(arg4), ctypes.c_ulong(arg5)), f"prctl({option})")


def readonly_flags(path: str) -> int:
    """Mount flags for a read-only bind remount of ``path``, keeping flags the kernel locks."""
    flag = os.statvfs(path).f_flag
    out = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID
    for st, ms in _ST_TO_MS.items():
        if flag & st:
            out |= ms
    return out


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def drop_bounding_set() -> None:
    """Empty the bounding and ambient sets and set no_new_privs, for this process and its children.

    Done once by the zygote (it keeps its effective capabilities, which it needs to remount /tmp):
    all three are inherited across fork, and none can be undone, so each program process starts
    without them and only has to clear its own sets (``clear_capabilities``).
    """
    for cap in range(64):
        try:
            prctl(PR_CAPBSET_DROP, cap)
        except OSError:
            break  # EINVAL: past the last capability the kernel knows
    try:
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    except OSError:
        pass
    prctl(PR_SET_NO_NEW_PRIVS, 1)


# Built at import (in the zygote), so a program process's capset is one foreign call: creating
# the ctypes types and resolving the symbol in every child cost ~0.3 ms of page copies.
_CAPSET = _libc.capset
_CAP_ARGS = (ctypes.byref(_CapHeader(0x20080522, 0)), ctypes.byref((_CapData * 2)()))


def clear_capabilities() -> None:
    """Empty the effective, permitted and inheritable sets (one capset call)."""
    _check(_CAPSET(*_CAP_ARGS), "capset")


def status_kb(text: bytes, field: bytes) -> int | None:
    """A kB field (``VmData``, ``RssAnon``, ``RssShmem``...) of a /proc/<pid>/status text, or None."""
    i = text.find(b"\n" + field + b":")
    if i < 0:
        return None
    value = text[i + len(field) + 2:text.find(b"\n", i + 1)].split()
    return int(value[0]) if value and value[0].isdigit() else None


def open_schedstat(path: str) -> int | None:
    """An open ``/proc/.../schedstat`` for ``run_delay``; None on a kernel without
    CONFIG_SCHED_INFO (the wall-clock backstop is then plain wall time)."""
    try:
        return os.open(path, os.O_RDONLY)
    except OSError:
        return None


def run_delay(fd: int) -> float:
    """Seconds the task behind ``fd`` (an open ``schedstat``) was runnable but waiting for a
    CPU; 0 if unreadable."""
    try:
        return int(os.pread(fd, 128, 0).split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def capabilities_effective() -> int:
    """The effective capability mask of this process (from /proc/self/status)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    return 0

