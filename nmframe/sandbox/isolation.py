"""Kernel primitives that contain one session: namespaces, mounts, limits, privilege drop.

Every function here runs in a freshly forked, single-threaded child (the launcher or its
children), never in the parent, so it may change process-wide state freely.  The calls go
through ``ctypes`` because Python 3.11 has no ``os.unshare``/``os.mount``.

What contains what (when the parent runs as root and namespaces are permitted):
- network: a new network namespace with no interface up -> every connect fails;
- processes: a new PID namespace (killing its init kills every descendant, even those that
  called setsid) and a dedicated unprivileged uid per session, so ``RLIMIT_NPROC`` applies and
  the code cannot signal or ptrace anything outside;
- files: a mount namespace where every mount is read-only, /tmp /var/tmp /run are empty
  read-only tmpfs and the working directory is a size-bounded private tmpfs;
- host environment: the launcher starts with a minimal environment and the host's /proc is
  replaced by the namespace's own.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18

MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
AT_FDCWD = -100
AT_RECURSIVE = 0x8000
SYS_MOUNT_SETATTR = 442  # x86_64 and aarch64 share the number (generic syscall table)

PR_SET_NO_NEW_PRIVS = 38

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


EMPTIED_DIRS = ("/tmp", "/var/tmp", "/run")  # covered by an empty read-only tmpfs in every session


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def unshare(flags: int) -> None:
    if hasattr(os, "unshare"):
        os.unshare(flags)
    else:
        _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = lambda s: None if s is None else s.encode()  # noqa: E731
    _check(
        _libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
        f"mount {target}",
    )


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def set_mount_readonly(path: str, recursive: bool) -> None:
    """Make ``path`` (and with ``recursive`` every mount below it) read-only and nosuid."""
    attr = _MountAttr(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0, 0, 0)
    ret = _libc.syscall(
        ctypes.c_long(SYS_MOUNT_SETATTR),
        ctypes.c_int(AT_FDCWD),
        path.encode(),
        ctypes.c_uint(AT_RECURSIVE if recursive else 0),
        ctypes.byref(attr),
        ctypes.c_size_t(ctypes.sizeof(attr)),
    )
    if ret == 0:
        return
    err = ctypes.get_errno()
    if err not in (38, 22):  # ENOSYS / EINVAL: kernel older than 5.12, remount one by one
        raise OSError(err, f"mount_setattr {path}: {os.strerror(err)}")
    targets = [path]
    if recursive:
        with open("/proc/self/mountinfo") as fh:
            points = [line.split()[4] for line in fh]
        prefix = path.rstrip("/") + "/"
        targets = [p for p in points if p == path or p.startswith(prefix)]
    for target in targets:
        try:
            mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID)
        except OSError:
            pass


def sethostname(name: str) -> None:
    raw = name.encode()
    _libc.sethostname(raw, ctypes.c_size_t(len(raw)))


def no_new_privs() -> None:
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")


def hidden_ancestor(path: str) -> str | None:
    """The outermost ancestor of ``path`` that other users cannot traverse, if any."""
    parts = os.path.abspath(path).strip("/").split("/")
    cur = ""
    for part in parts[:-1] if len(parts) > 1 else []:
        cur += "/" + part
        try:
            if not os.stat(cur).st_mode & 0o001:
                return cur
        except OSError:
            return None
    return None


def expose_paths(paths: list[str]) -> list[str]:
    """Let the unprivileged worker read ``paths`` (the interpreter, its libraries) even when
    they live under a private directory such as /root: that directory is covered by an empty
    tmpfs (hiding everything else in it) and each path is bind-mounted back, read-only."""
    plan: dict[str, list[tuple[str, int]]] = {}
    for path in paths:
        if not os.path.isdir(path):
            continue
        top = hidden_ancestor(path)
        if top is None:
            continue
        fd = os.open(path, os.O_PATH | os.O_DIRECTORY)
        plan.setdefault(top, []).append((path, fd))
    for top, items in plan.items():
        mount("tmpfs", top, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=755")
        for path, fd in items:
            os.makedirs(path, mode=0o755, exist_ok=True)
            mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
            os.close(fd)
        set_mount_readonly(top, recursive=True)
    return sorted(plan)


def setup_mounts(workdir: str, disk_mb: int, uid: int | None, gid: int | None, shm_mb: int,
                 expose: list[str] = ()) -> list[str]:
    """Called by the namespace's init (root, inside the new mount and PID namespaces).

    Returns the private directories that were covered to expose ``expose``."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing propagates back to the host
    set_mount_readonly("/", recursive=True)
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    covered = expose_paths(list(expose)) if uid is not None else []
    owner = "" if uid is None else f",uid={uid},gid={gid}"
    # The interpreter or the package may live under a directory about to be emptied (a checkout
    # or a virtual environment under /tmp): hold them now and bind them back, read-only, after.
    keep = [(p, os.open(p, os.O_PATH | os.O_DIRECTORY)) for p in (os.path.realpath(e) for e in expose)
            if os.path.isdir(p) and any(p == c or p.startswith(c + "/") for c in EMPTIED_DIRS)]
    # Empty read-only tmpfs over the world-writable and socket-holding directories.
    for path in EMPTIED_DIRS:
        if os.path.isdir(path) and not os.path.islink(path):
            mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,mode=755")
    for path, fd in keep:
        os.makedirs(path, mode=0o755, exist_ok=True)
        mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        set_mount_readonly(path, recursive=True)
        os.close(fd)
    os.makedirs(workdir, exist_ok=True)
    mount("tmpfs", workdir, "tmpfs", MS_NOSUID | MS_NODEV, f"size={int(disk_mb)}m,mode=700{owner}")
    for path in EMPTIED_DIRS:
        if os.path.isdir(path) and not os.path.islink(path):
            set_mount_readonly(path, recursive=False)
    if shm_mb > 0 and os.path.isdir("/dev/shm") and not os.path.islink("/dev/shm"):
        # multiprocessing needs a writable /dev/shm; give it a small private one.
        mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, f"size={int(shm_mb)}m,mode=1777")
    return covered


def apply_limits(memory_mb: int, cpu_soft: int, cpu_hard: int, max_processes: int, max_file_mb: int,
                 max_open_files: int) -> None:
    def _set(which: int, soft: int, hard: int | None = None) -> None:
        hard = soft if hard is None else hard
        resource.setrlimit(which, (soft, hard))

    if memory_mb:
        _set(resource.RLIMIT_AS, int(memory_mb) << 20)
    if cpu_hard:
        _set(resource.RLIMIT_CPU, int(min(cpu_soft, cpu_hard)), int(cpu_hard))
    if max_processes:
        _set(resource.RLIMIT_NPROC, int(max_processes))
    if max_file_mb:
        _set(resource.RLIMIT_FSIZE, int(max_file_mb) << 20)
    _set(resource.RLIMIT_CORE, 0)
    if max_open_files:
        _set(resource.RLIMIT_NOFILE, int(max_open_files))


def drop_privileges(uid: int, gid: int) -> None:
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise OSError("privilege drop did not take effect")
