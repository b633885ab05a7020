"""A seccomp deny-list for the sandbox: fewer kernel entry points for untrusted code.

The filter is classic BPF, assembled here in pure Python (no libseccomp). Per syscall it:

* kills the process if ``seccomp_data.arch`` is not this machine's ABI (e.g. i386 ``int 0x80`` on
  x86_64, whose numbers differ and would bypass the list), and answers EPERM to the x32 ABI
  (``nr >= 0x40000000``, x86_64 only);
* answers EPERM to every syscall in ``DENIED``: namespaces, mount APIs, tracing and other
  processes' memory, keyrings, bpf, perf, userfaultfd, io_uring, modules, kexec, clocks, swap,
  raw I/O ports, memfd and System V shared memory, extended attributes;
* answers EAFNOSUPPORT to ``socket``/``socketpair`` of a family other than ``AF_UNIX``
  (``SOCKET_FAMILIES``): ``AF_VSOCK`` is not network-namespaced (its connections went to the
  hypervisor); ``AF_INET``/``AF_INET6`` reach nothing in the empty network namespace, yet a TCP
  socket ``mmap``-ed stays alive after ``close()``, past ``RLIMIT_NOFILE`` (3.6 KiB of kernel
  memory each, 519 MiB held under 256 MiB, and enough of them in epoll sets used up the per-user
  epoll watch limit that other workers' programs and the host's processes share); every other
  family is kernel surface no program needs (netlink, packet, alg, ...);
* answers EPERM to ``clone`` with a namespace flag (the flags are its first argument), to
  ``personality`` other than the query (0xffffffff) and ``PER_LINUX`` (0), to ``setsockopt``
  setting a socket's buffer size (``SOCKET_BUFFER_OPTIONS``; the default sizes stay), and to
  ``prlimit64`` on another process (pid != 0): a program runs as the zygote's uid, which is all
  the kernel asks to lower the zygote's limits, and every later program would inherit them
  (``setrlimit``/``getrlimit`` and ``resource.prlimit(0, ...)`` pass pid 0 and keep working),
  and likewise to ``sched_setaffinity``/``sched_setscheduler``/``sched_setparam``/
  ``sched_setattr`` on another pid, ``setpriority`` other than ``(PRIO_PROCESS, 0)`` and
  ``ioprio_set`` other than ``(IOPRIO_WHO_PROCESS, 0)``: re-pinning or renicing the worker's
  own processes, or every process of the uid btp runs as;
* answers EPERM to ``rt_sigaction`` that sets a ``SIGCHLD`` disposition: ``SIG_IGN`` or
  ``SA_NOCLDWAIT`` would have the kernel reap the program's children as they exit, and a child
  reaped that way takes its CPU time with it (in nobody's ``cutime``), out of the zygote's count
  of the program's CPU; reading the disposition (a null new action) still works;
* answers ENOSYS to ``clone3``, whose flags live in memory a filter cannot read: glibc then falls
  back to ``clone`` (threads, ``posix_spawn``; ``os.fork`` uses ``clone`` anyway);
* allows everything else.

The zygote installs it once, before it forks any program process; every program process and
whatever it forks or execs inherits it, and it can never be removed. (Installing it in each
program process cost ~0.14 ms per program: the kernel runs a new filter over every syscall
number to cache the ones it always allows.) ``mount`` and ``umount2`` stay allowed because the
zygote replaces /tmp between programs with them; programs have no capabilities, so the kernel
refuses them those calls anyway (``cases_exec``: mount_remount_rw).
"""

from __future__ import annotations

import ctypes
import os
import struct

from btp.execution import linux

PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
AUDIT_ARCH_X86_64 = 0xC000003E
AUDIT_ARCH_AARCH64 = 0xC00000B7
X32_SYSCALL_BIT = 0x40000000
NAMESPACE_FLAGS = (linux.CLONE_NEWNS | linux.CLONE_NEWUTS | linux.CLONE_NEWIPC | linux.CLONE_NEWUSER
                   | linux.CLONE_NEWPID | linux.CLONE_NEWNET | 0x02000000)  # last: CLONE_NEWCGROUP
PERSONALITY_ALLOWED = (0xFFFFFFFF, 0)  # query the current persona; PER_LINUX
# Calls that change another process's scheduling: a program runs as the uid of the zygote, the
# template, the judge and (setpriority PRIO_USER, PRIO_PGRP) every process of the uid btp runs
# as, so it could renice or re-pin them for the worker's life (a reniced judge turned a later
# program's verdict into a timeout on a loaded machine). Only the caller itself (pid/who 0).
SELF_ONLY = ("sched_setaffinity", "sched_setscheduler", "sched_setparam", "sched_setattr")
PRIO_PROCESS, IOPRIO_WHO_PROCESS = 0, 1
SOL_SOCKET = 1
SOCKET_FAMILIES = (1,)  # AF_UNIX
SIGCHLD = 17  # on x86_64 and aarch64
# socket buffer sizes above the system default: 640 sockets filled at 4 MiB each held 3.9 GB
SOCKET_BUFFER_OPTIONS = (7, 8, 32, 33)  # SO_SNDBUF, SO_RCVBUF, SO_SNDBUFFORCE, SO_RCVBUFFORCE

# Syscalls that get EPERM. Names an architecture lacks (iopl, ioperm, modify_ldt, uselib,
# inotify_init on aarch64) are skipped there.
DENIED: tuple[str, ...] = (
    # namespaces and mounts (mount/umount2: see the module docstring)
    "unshare", "setns", "pivot_root", "chroot", "mount_setattr", "fsopen",
    "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "open_tree_attr",
    "open_by_handle_at", "name_to_handle_at",
    # other processes' memory and fds
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd",
    # large or historically buggy kernel surfaces
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "fanotify_init", "lookup_dcookie",
    # machine-wide state
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot",
    "swapon", "swapoff", "acct", "quotactl", "quotactl_fd", "syslog", "settimeofday",
    "clock_settime", "clock_adjtime", "adjtimex", "vhangup", "nfsservctl", "uselib",
    # x86 I/O ports and segment descriptors
    "iopl", "ioperm", "modify_ldt",
    # memory no per-process limit sees: memfd and System V shared memory / message queues live
    # outside RLIMIT_DATA and, unmapped, in no process's RSS (the zygote makes the one memfd
    # programs need, their stdin, before it installs the filter)
    "memfd_create", "memfd_secret", "shmget", "msgget",
    # kernel memory that outlives the program (semaphore sets stay until the worker ends) or that
    # no limit bounds (kernel AIO contexts)
    "semget", "io_setup",
    # per-user counts the kernel charges up the user-namespace chain to the uid that made the
    # namespace (root, for btp run as root): 128 inotify instances in a program left the host,
    # systemd included, unable to make one
    "inotify_init", "inotify_init1",
    # extended attributes: the worker's stdin memfd lives on the kernel's internal shm mount, where
    # nothing bounds them (8192 x 64 KiB held 1 GiB of kernel memory, and they outlived the
    # program: a channel to the next one); programs have no use for them
    "setxattr", "lsetxattr", "fsetxattr", "setxattrat",
    # page references in pipe slots, in no process's memory: vmsplice-d (then unmapped) huge pages
    # held 1.5 GiB under 256 MiB; splice/tee of 1 byte per 2 MiB of an exposed file pinned its
    # page cache (Python's own file copies use sendfile or read/write)
    "vmsplice", "splice", "tee",
)

# Numbers from the kernel's arch/x86/entry/syscalls/syscall_64.tbl ...
X86_64: dict[str, int] = {
    "unshare": 272, "setns": 308, "pivot_root": 155, "chroot": 161,
    "mount_setattr": 442, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
    "move_mount": 429, "open_tree": 428, "open_tree_attr": 467, "open_by_handle_at": 304,
    "name_to_handle_at": 303, "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311,
    "pidfd_getfd": 438, "keyctl": 250, "add_key": 248, "request_key": 249, "bpf": 321,
    "perf_event_open": 298, "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426,
    "io_uring_register": 427, "fanotify_init": 300, "lookup_dcookie": 212, "kexec_load": 246,
    "kexec_file_load": 320, "init_module": 175, "finit_module": 313, "delete_module": 176,
    "reboot": 169, "swapon": 167, "swapoff": 168, "acct": 163, "quotactl": 179, "quotactl_fd": 443,
    "syslog": 103, "settimeofday": 164, "clock_settime": 227, "clock_adjtime": 305, "adjtimex": 159,
    "vhangup": 153, "nfsservctl": 180, "uselib": 134, "iopl": 172, "ioperm": 173, "modify_ldt": 154,
    "memfd_create": 319, "memfd_secret": 447, "shmget": 29, "msgget": 68, "semget": 64, "io_setup": 206,
    "inotify_init": 253, "inotify_init1": 294, "setxattr": 188, "lsetxattr": 189, "fsetxattr": 190,
    "setxattrat": 463, "socket": 41, "socketpair": 53, "rt_sigaction": 13, "vmsplice": 278, "splice": 275,
    "tee": 276,
    "clone": 56, "clone3": 435, "personality": 135, "setsockopt": 54, "prlimit64": 302,
    "setpriority": 141, "sched_setparam": 142, "sched_setscheduler": 144, "sched_setaffinity": 203,
    "ioprio_set": 251, "sched_setattr": 314,
}
# ... and include/uapi/asm-generic/unistd.h (aarch64 uses the generic table).
AARCH64: dict[str, int] = {
    "unshare": 97, "setns": 268, "pivot_root": 41, "chroot": 51,
    "mount_setattr": 442, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
    "move_mount": 429, "open_tree": 428, "open_tree_attr": 467, "open_by_handle_at": 265,
    "name_to_handle_at": 264, "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271,
    "pidfd_getfd": 438, "keyctl": 219, "add_key": 217, "request_key": 218, "bpf": 280,
    "perf_event_open": 241, "userfaultfd": 282, "io_uring_setup": 425, "io_uring_enter": 426,
    "io_uring_register": 427, "fanotify_init": 262, "lookup_dcookie": 18, "kexec_load": 104,
    "kexec_file_load": 294, "init_module": 105, "finit_module": 273, "delete_module": 106,
    "reboot": 142, "swapon": 224, "swapoff": 225, "acct": 89, "quotactl": 60, "quotactl_fd": 443,
    "syslog": 116, "settimeofday": 170, "clock_settime": 112, "clock_adjtime": 266, "adjtimex": 171,
    "vhangup": 58, "nfsservctl": 42, "memfd_create": 279, "memfd_secret": 447, "shmget": 194,
    "msgget": 186, "semget": 190, "io_setup": 0, "clone": 220, "clone3": 435, "personality": 92,
    "inotify_init1": 26, "setsockopt": 208, "prlimit64": 261,
    "setpriority": 140, "sched_setparam": 118, "sched_setscheduler": 119, "sched_setaffinity": 122,
    "ioprio_set": 30, "sched_setattr": 274, "setxattr": 5, "lsetxattr": 6, "fsetxattr": 7,
    "setxattrat": 463, "socket": 198, "socketpair": 199, "rt_sigaction": 134, "vmsplice": 75, "splice": 76,
    "tee": 77,
}
ARCHES: dict[str, tuple[int, dict[str, int]]] = {
    "x86_64": (AUDIT_ARCH_X86_64, X86_64),
    "aarch64": (AUDIT_ARCH_AARCH64, AARCH64),
}

# classic BPF opcodes and struct seccomp_data offsets (nr, arch, low 32 bits of args[0])
_LD, _JEQ, _JGT, _JGE, _JSET, _RET = 0x20, 0x15, 0x25, 0x35, 0x45, 0x06
_NR, _ARCH, _ARG0, _ARG1, _ARG2 = 0, 4, 16, 24, 32  # low halves of args[0..2]
_ARG1_HIGH = 28
_EPERM, _ENOSYS, _EAFNOSUPPORT = SECCOMP_RET_ERRNO | 1, SECCOMP_RET_ERRNO | 38, SECCOMP_RET_ERRNO | 97


def build(machine: str) -> bytes:
    """The filter for ``machine`` (an ``os.uname().machine``) as packed ``sock_filter`` entries."""
    audit_arch, table = ARCHES[machine]
    action = {table[name]: "eperm" for name in DENIED if name in table}
    action |= {table["clone3"]: "enosys", table["clone"]: "clone", table["personality"]: "personality",
               table["setsockopt"]: "setsockopt", table["prlimit64"]: "self",
               table["setpriority"]: "who_self", table["ioprio_set"]: "io_self",
               table["socket"]: "family", table["socketpair"]: "family", table["rt_sigaction"]: "sigchld"}
    action |= {table[name]: "self" for name in SELF_ONLY}
    runs: list[list] = []  # [first, last, label]: consecutive numbers with the same action
    for nr in sorted(action):
        if runs and runs[-1][1] == nr - 1 and runs[-1][2] == action[nr]:
            runs[-1][1] = nr
        else:
            runs.append([nr, nr, action[nr]])
    return assemble([
        (_LD, _ARCH), (_JEQ, audit_arch, "nr"), (_RET, SECCOMP_RET_KILL_PROCESS),
        "nr", (_LD, _NR),
        *([(_JGE, X32_SYSCALL_BIT, "eperm")] if machine == "x86_64" else []),
        *_search(runs),
        "personality", (_LD, _ARG0), (_JEQ, PERSONALITY_ALLOWED[0], "allow"),
        (_JEQ, PERSONALITY_ALLOWED[1], "allow", "eperm"),
        "clone", (_LD, _ARG0), (_JSET, NAMESPACE_FLAGS, "eperm", "allow"),
        "self", (_LD, _ARG0), (_JEQ, 0, "allow", "eperm"),  # pid 0: the caller
        "who_self", (_LD, _ARG0), (_JEQ, PRIO_PROCESS, None, "eperm"), (_LD, _ARG1), (_JEQ, 0, "allow", "eperm"),
        "io_self", (_LD, _ARG0), (_JEQ, IOPRIO_WHO_PROCESS, None, "eperm"), (_LD, _ARG1),
        (_JEQ, 0, "allow", "eperm"),
        "setsockopt", (_LD, _ARG1), (_JEQ, SOL_SOCKET, None, "allow"), (_LD, _ARG2),
        *[(_JEQ, opt, "eperm") for opt in SOCKET_BUFFER_OPTIONS], (_RET, SECCOMP_RET_ALLOW),
        "sigchld", (_LD, _ARG0), (_JEQ, SIGCHLD, None, "allow"), (_LD, _ARG1), (_JEQ, 0, None, "eperm"),
        (_LD, _ARG1_HIGH), (_JEQ, 0, "allow", "eperm"),  # a new action (pointer != NULL): refused
        "family", (_LD, _ARG0), *[(_JEQ, family, "allow") for family in SOCKET_FAMILIES],
        (_RET, _EAFNOSUPPORT),
        "allow", (_RET, SECCOMP_RET_ALLOW),
        "eperm", (_RET, _EPERM),
        "enosys", (_RET, _ENOSYS),
    ])


def _search(runs: list[list]) -> list:
    """A binary search of the syscall number over sorted ``runs``: each jumps to its label, any
    other number to "allow". A linear list made each install ~0.1 ms dearer: the kernel runs the
    filter for every syscall number once, to cache which ones it always allows."""
    if len(runs) > 3:
        mid = runs[len(runs) // 2][0]
        return [(_JGE, mid, f"from{mid}"), *_search(runs[:len(runs) // 2]), f"from{mid}",
                *_search(runs[len(runs) // 2:])]
    out: list = []
    for i, (first, last, label) in enumerate(runs):  # numbers below this run are in a gap: allow
        more = i + 1 < len(runs)
        out += [(_JGT, last, f"above{last}" if more else "allow"), (_JGE, first, label, "allow")]
        out += [f"above{last}"] if more else []
    return out


def assemble(prog: list) -> bytes:
    """Packed ``sock_filter`` entries for ``prog``: instructions ``(code, k[, jt[, jf]])`` whose
    jumps name a label (None: the next instruction), and labels (str) marking the instruction after."""
    labels: dict[str, int] = {}
    code = []
    for item in prog:
        if isinstance(item, str):
            labels[item] = len(code)
        else:
            code.append(item)
    out = []
    for i, (op, k, *jumps) in enumerate(code):
        jt, jf = (0 if lab is None else labels[lab] - i - 1 for lab in (jumps + [None, None])[:2])
        out.append(struct.pack("=HBBI", op, jt, jf, k))  # BPF jumps go forward, at most 255
    return b"".join(out)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


MACHINE = os.uname().machine
FILTER: bytes | None = build(MACHINE) if MACHINE in ARCHES else None
_PRCTL = linux._libc.prctl
_NNP_ARGS = (ctypes.c_int(linux.PR_SET_NO_NEW_PRIVS), ctypes.c_ulong(1), ctypes.c_ulong(0),
             ctypes.c_ulong(0), ctypes.c_ulong(0))
_SECCOMP_ARGS: tuple | None = None
if FILTER is not None:
    _BUF = ctypes.create_string_buffer(FILTER, len(FILTER))
    _PROG = _SockFprog(len(FILTER) // 8, ctypes.addressof(_BUF))
    _SECCOMP_ARGS = (ctypes.c_int(PR_SET_SECCOMP), ctypes.c_ulong(SECCOMP_MODE_FILTER), ctypes.byref(_PROG),
                     ctypes.c_ulong(0), ctypes.c_ulong(0))


def install() -> bool:
    """Set no_new_privs and install the filter on this process and all it will fork or exec.

    Returns False, doing nothing, on a machine without a syscall table here (only x86_64 and
    aarch64 have one). Raises ``OSError`` if the kernel refuses: the sandbox fails closed.
    """
    if _SECCOMP_ARGS is None:
        return False
    linux._check(_PRCTL(*_NNP_ARGS), "prctl(PR_SET_NO_NEW_PRIVS)")  # idempotent; the zygote set it
    linux._check(_PRCTL(*_SECCOMP_ARGS), "prctl(PR_SET_SECCOMP)")
    return True
