"""Start one sandboxed worker: ``python -m btp.execution.boot SPEC_JSON`` (run by ``worker.Worker``).

Steps, in this order (see docs/SANDBOX.md):

1. ``unshare`` new user, mount, network, IPC and UTS namespaces.
2. Handshake with the host, which writes our uid/gid maps: inside uid 0 is outside uid 65534
   (nobody) when the host runs as root, else the host user's own uid.
3. Open every directory we will expose (Python, the venv, /usr, /etc, ...) while we may still
   traverse the host's paths, then become uid 0 of the namespace (so an unprivileged user outside).
4. Build a new root on a tmpfs: read-only bind mounts of those directories, a few device nodes,
   a size-limited tmpfs on /tmp.
5. Fork the judge (``judge.serve``, runs assert tests), then ``unshare`` a PID namespace, so the
   judge stays outside it: invisible to every program.
6. Fork the zygote: PID 1 of the new PID namespace. It mounts /proc, pivots into the new root,
   detaches the old one, makes / read-only, and serves requests on stdin/stdout.
"""

from __future__ import annotations

import json
import os
import signal
import sys

from btp.execution import linux

DEVICES = ("null", "zero", "full", "random", "urandom")
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")


def fail(message: str) -> None:
    """Tell the host why the worker cannot start (an "E ..." line on stdout) and exit."""
    os.write(1, f"E {message}\n".encode())
    os._exit(3)


def expect_judge(answer: bytes, want: bytes) -> None:
    """``fail`` unless the judge's answer on its ready pipe is ``want`` (else it is "E<error>")."""
    if answer != want:
        fail(f"the judge process failed to start ({answer[1:].decode(errors='replace') or 'it exited'})")


HIDDEN = "/.btp-host"  # where host directories that live under /tmp are kept, to re-bind into each scratch
_TMP_BINDS: list[tuple[str, str]] = []  # (hidden source, target under /tmp), set by build_root


def exposed_paths() -> list[str]:
    """System directories plus every directory Python imports from; nested ones dropped.

    The host's /tmp itself is never exposed (only directories below it that Python needs, such as a
    checkout or virtualenv under /tmp)."""
    wanted = list(SYSTEM_DIRS)
    for p in [sys.prefix, sys.base_prefix, sys.exec_prefix, *sys.path]:
        if p and os.path.isabs(p) and os.path.isdir(p) and os.path.realpath(p) not in ("/", "/tmp"):
            wanted.append(os.path.realpath(p))
    out: list[str] = []
    for p in sorted(set(wanted), key=len):
        if not os.path.lexists(p):
            continue
        if any(p == q or p.startswith(q.rstrip("/") + "/") for q in out):
            continue
        out.append(p)
    return out


def _submounts(target: str) -> list[str]:
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].replace("\\040", " ")
            if mp.startswith(target.rstrip("/") + "/"):
                points.append(mp)
    return points


def _bind_readonly(fd: int, target: str) -> None:
    linux.mount(f"/proc/self/fd/{fd}", target, None, linux.MS_BIND | linux.MS_REC)
    for mp in [target, *_submounts(target)]:
        try:
            linux.mount(None, mp, None, linux.readonly_flags(mp))
        except OSError:
            if mp == target:
                raise


def build_root(root: str, disk_mb: int, hide=()) -> None:
    """Populate the new root (a fresh tmpfs on ``root``); ``hide``: paths to cover with empty ones."""
    paths = exposed_paths()
    # resolved here, as the host's uid: after the uid switch below a path under /root (0700)
    # looks absent, and a hidden directory got an empty file mounted on it (ENOTDIR)
    hidden = [(h, os.path.isdir(h)) for h in
              _exposed_within([os.path.realpath(h) for h in hide if os.path.exists(h)], paths)]
    opened = {}
    for p in paths:
        if not os.path.islink(p):
            opened[p] = os.open(p, os.O_PATH)
    dev_fds = {d: os.open(f"/dev/{d}", os.O_PATH) for d in DEVICES if os.path.exists(f"/dev/{d}")}

    if os.getuid() != 0:
        try:
            os.setgroups([])
        except OSError:
            pass  # setgroups is denied in an unprivileged user namespace; nothing to drop
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)

    linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
    linux.mount("btp-root", root, "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, "mode=0755,size=16m")
    under_tmp = [p for p in paths if p.startswith("/tmp/")]
    _TMP_BINDS[:] = [(f"{HIDDEN}/{i}", p) for i, p in enumerate(under_tmp)]
    for p in paths:
        dst = root + (f"{HIDDEN}/{under_tmp.index(p)}" if p in under_tmp else p)
        if os.path.islink(p):
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.symlink(os.readlink(p), dst)
            continue
        os.makedirs(dst, exist_ok=True)
        _bind_readonly(opened[p], dst)
        os.close(opened[p])
    os.makedirs(root + "/dev", exist_ok=True)
    for name, fd in dev_fds.items():
        open(f"{root}/dev/{name}", "w").close()
        linux.mount(f"/proc/self/fd/{fd}", f"{root}/dev/{name}", None, linux.MS_BIND)
        os.close(fd)
    for name, dest in (("shm", "/tmp"), ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                       ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(dest, f"{root}/dev/{name}")
    for d in ("/proc", "/tmp", "/root"):
        os.makedirs(root + d, exist_ok=True)
    _cover(root, hidden, under_tmp)
    mount_scratch(root, disk_mb)


def _exposed_within(hide: list[str], paths: list[str]) -> list[str]:
    """The paths of ``hide`` that programs could otherwise read (inside an exposed directory)."""
    return [h for h in hide if any(h == p or h.startswith(p.rstrip("/") + "/") for p in paths)]


def _cover(root: str, hidden: list[tuple[str, bool]], under_tmp: list[str]) -> None:
    """Mount an empty read-only directory (or file) over each of ``hidden`` (path, is a
    directory) in the new root."""
    if not hidden:
        return
    empty_dir, empty_file = root + "/.btp-empty", root + "/.btp-empty-file"
    os.makedirs(empty_dir, mode=0o555, exist_ok=True)
    open(empty_file, "w").close()
    for h, is_dir in hidden:
        top = next((p for p in under_tmp if h == p or h.startswith(p + "/")), None)
        dst = root + (h if top is None else f"{HIDDEN}/{under_tmp.index(top)}{h[len(top):]}")
        linux.mount(empty_dir if is_dir else empty_file, dst, None, linux.MS_BIND)
        linux.mount(None, dst, None, linux.readonly_flags(dst))


def tmp_binds() -> list[tuple[str, str]]:
    """Host directories bound into the sandbox's /tmp (where the host keeps Python under /tmp)."""
    return list(_TMP_BINDS)


def mount_scratch(root: str, disk_mb: int) -> None:
    """A fresh size-limited tmpfs on ``root``/tmp: the only writable place a program sees.

    Host directories Python needs that live under /tmp are bound back into it, read-only."""
    path = root + "/tmp"
    linux.mount("btp-scratch", path, "tmpfs", linux.MS_NOSUID | linux.MS_NODEV,
                f"mode=1777,size={int(disk_mb)}m,nr_inodes=4096")
    for hidden, target in _TMP_BINDS:
        os.makedirs(root + target, exist_ok=True)
        linux.mount(root + hidden, root + target, None, linux.MS_BIND | linux.MS_REC)
        for mp in [root + target, *_submounts(root + target)]:
            linux.mount(None, mp, None, linux.readonly_flags(mp))


def enter_root(root: str) -> None:
    """In the zygote (PID 1): mount /proc for our PID namespace with /proc/sys read-only, pivot,
    drop the old root. Some sysctls belong to our namespaces and the programs' uid may write them:
    ``kernel.pid_max`` of a PID namespace (Linux 6.14+) set to 301 by one program left every later
    program on the worker unable to start a thread or a process."""
    linux.mount("proc", root + "/proc", "proc", linux.MS_NOSUID | linux.MS_NODEV | linux.MS_NOEXEC)
    for name in ("sys", "pressure"):  # (PSI triggers: a side channel on the host's load)
        path = f"{root}/proc/{name}"
        if os.path.isdir(path):
            linux.mount(path, path, None, linux.MS_BIND | linux.MS_REC)
            linux.mount(None, path, None, linux.readonly_flags(path))
    os.chdir(root)
    linux.pivot_root(".", ".")
    linux.umount2(".", linux.MNT_DETACH)
    os.chdir("/")
    linux.mount(None, "/", None, linux.MS_REMOUNT | linux.MS_RDONLY | linux.MS_NOSUID | linux.MS_NODEV)


def preload(names) -> None:
    """Import the sandbox's own modules and ``names`` now, as the host user (every path readable):
    the judge and the zygote are forked from this process and inherit them, instead of each
    importing the same modules again (that was half of a worker's ~0.1 s start)."""
    import btp.execution.judge
    import btp.execution.zygote  # noqa: F401

    for name in names:
        try:
            __import__(name)
        except Exception:  # noqa: BLE001 - an optional module that is missing is not an error
            pass


def main() -> None:
    # No PR_SET_PDEATHSIG here: it fires when the *thread* that started us exits, and the host
    # restarts workers from run_batch's short-lived threads (unprivileged, where the setting
    # survives our uid change, every restarted worker died with its batch's thread). If the host
    # dies, the zygote reads EOF on its requests and exits, and so do we (the judge and the
    # zygote die with us).
    spec = json.loads(sys.argv[1])
    if spec.get("cpu") is not None:  # before anything is forked: all of the worker inherit it
        try:
            os.sched_setaffinity(0, {spec["cpu"]})
        except OSError:
            pass  # that CPU went away: unpinned is only slower
    preload(spec.get("preload", ()))
    flags = (linux.CLONE_NEWUSER | linux.CLONE_NEWNS | linux.CLONE_NEWNET | linux.CLONE_NEWIPC
             | linux.CLONE_NEWUTS)
    try:
        linux.unshare(flags)
    except OSError as e:
        fail(f"cannot create user/mount/network/PID namespaces ({e}); unprivileged user "
              f"namespaces may be disabled (sysctl kernel.unprivileged_userns_clone, "
              f"user.max_user_namespaces, or an AppArmor userns restriction)")
    os.write(1, b"U\n")  # host: write our uid/gid maps now
    if sys.stdin.buffer.readline().strip() != b"G":
        os._exit(3)
    try:
        build_root(spec["root"], spec["disk_mb"], spec.get("hide", ()))
    except OSError as e:
        fail(f"cannot build the sandbox filesystem: {e}")
    judge_pid, judge_ends = start_judge()
    try:
        linux.unshare(linux.CLONE_NEWPID)  # for the zygote and programs only; the judge stays outside
    except OSError as e:
        fail(f"cannot create a PID namespace ({e})")
    spec.update(judge_ends)
    pid = os.fork()
    if pid == 0:
        try:
            linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
            enter_root(spec["root"])
        except OSError as e:
            fail(f"cannot enter the sandbox root: {e}")
        from btp.execution.zygote import serve

        serve(spec)
        os._exit(0)
    for fd in (0, 1, *judge_ends["judge_fds"], *judge_ends["call_fds"], judge_ends["judge_go"],
               judge_ends["judge_ready"], judge_ends["judge_sched"]):
        if fd is not None:
            os.close(fd)
    _, status = os.waitpid(pid, 0)
    os.kill(judge_pid, signal.SIGKILL)
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


def start_judge() -> tuple[int, dict]:
    """Fork the judge (``judge.serve``) before the PID namespace exists, so that no program can
    name, signal or trace it. Returns its pid and the zygote's ends of its pipes.

    It has the modules it needs (``preload`` imported them into boot) and waits until the zygote
    has pivoted into the new root (it writes "G" on ``go``): here, as the namespace's uid 0 (nobody
    outside), the host's Python directories may be unreadable (/root/.pyenv); in the new root they
    are bind-mounted, for whatever a test imports later. On ``ready`` it says "S" once
    it holds its /proc status file (before the pivot hides it), then "R" once started, or "E<error>"."""
    cmd_r, cmd_w = os.pipe()
    res_r, res_w = os.pipe()
    call_r, call_w = os.pipe()  # the judge's calls to the program process of the moment
    back_r, back_w = os.pipe()  # its replies
    go_r, go_w = os.pipe()
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)
            for fd in (cmd_w, res_r, call_r, back_w, go_w, ready_r):
                os.close(fd)
            # our /proc/<pid>/status: after the pivot /proc is the programs' PID namespace's, where
            # the judge has no pid (it reads its memory use there before each program)
            status_fd = os.open(f"/proc/{os.getpid()}/status", os.O_RDONLY)
            # the key the host seals assert tests with (protocol.seal): made here, after the fork,
            # and told only to the host (our stdout is still boot's), so the zygote, and every
            # program forked from it, never holds it
            key = os.urandom(32)
            os.write(1, b"K" + key.hex().encode() + b"\n")
            os.write(ready_w, b"S")  # opened: boot may go on (and the zygote pivot)
            if os.read(go_r, 1) != b"G":
                os._exit(0)
            from btp.execution.judge import serve

            serve(cmd_r, res_w, call_w, back_r, status_fd, key, ready_fd=ready_w)
        except BaseException as e:  # noqa: BLE001 - reported by the zygote as the worker's start error
            os.write(ready_w, f"E{type(e).__name__}: {e}".encode()[:500])
        finally:
            os._exit(70)
    for fd in (cmd_r, res_w, call_w, go_r, ready_w):
        os.close(fd)
    expect_judge(os.read(ready_r, 512), b"S")
    # the zygote keeps the program's ends (each program process inherits them) and a reader of
    # the replies, to empty both pipes between programs; and the judge's scheduler statistics
    # (its time waiting for a CPU moves the wall-clock backstop), opened while /proc shows it
    return pid, {"judge_fds": [cmd_w, res_r], "call_fds": [call_r, back_w, back_r],
                 "judge_go": go_w, "judge_ready": ready_r,
                 "judge_sched": linux.open_schedstat(f"/proc/{pid}/schedstat")}


if __name__ == "__main__":
    main()
