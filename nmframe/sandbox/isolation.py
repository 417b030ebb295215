"""Kernel primitives that contain one session: namespaces, a private root, limits, privileges.

Every function here runs in a freshly forked, single-threaded child (the launcher or its
children), never in the parent, so it may change process-wide state freely.  The calls go
through ``ctypes`` because Python 3.11 has no ``os.mount``/``pivot_root``/``capset``.

What contains what:
- network: a new network namespace with no interface up -> every connect fails;
- processes: a new PID namespace (killing its init kills every descendant, even those that
  called setsid); the code cannot see or signal anything outside it;
- privileges: as root, the worker drops to a dedicated unprivileged uid; as an ordinary user,
  the session lives in a new user namespace (uid 1000 inside, the caller's uid outside) and
  the worker drops every capability; ``no_new_privs`` and the seccomp filter keep it there;
- files: a private root (a tmpfs holding read-only binds of the system directories, the
  interpreter and its installed packages, a minimal /dev and the namespace's own /proc); the
  caller's working directory and checkout are not in it; the working directory is a private
  tmpfs bounded in size and in inodes;
- host environment: the launcher starts with a minimal environment.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import resource

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
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
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2

MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
AT_FDCWD = -100
AT_RECURSIVE = 0x8000
SYS_MOUNT_SETATTR = 442  # x86_64 and aarch64 share the number (generic syscall table)
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}.get(platform.machine(), 155)
SYS_CAPSET = {"x86_64": 126, "aarch64": 91}.get(platform.machine(), 126)

PR_SET_NO_NEW_PRIVS = 38
PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4

INNER_UID = 1000  # the worker's uid inside a user namespace

# What the private root holds besides the interpreter: system libraries and a few /etc files
# (the loader cache, user and host names, time zone). Nothing else of the host is visible.
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
ETC_ENTRIES = ("passwd", "group", "hosts", "nsswitch.conf", "ld.so.cache", "ld.so.conf", "ld.so.conf.d",
               "localtime", "mime.types", "alternatives", "fonts")
DEV_NODES = ("null", "zero", "full", "random", "urandom")
SMALL_TMPFS = "size=64k,nr_inodes=64,mode=755"

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


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
        mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID)


def sethostname(name: str) -> None:
    raw = name.encode()
    _libc.sethostname(raw, ctypes.c_size_t(len(raw)))


def no_new_privs() -> None:
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")


# ---------------------------------------------------------------------------- user namespace
def enter_user_namespace(flags: int, outer_uid: int, outer_gid: int) -> None:
    """unshare(CLONE_NEWUSER | flags) as an ordinary user and map ``INNER_UID`` to the caller.

    The creator of a user namespace holds every capability inside it, which is what lets the
    session's init mount its private root; the worker gives them up (``drop_capabilities``)."""
    unshare(CLONE_NEWUSER | flags)
    with open("/proc/self/setgroups", "w") as fh:
        fh.write("deny")
    with open("/proc/self/uid_map", "w") as fh:
        fh.write(f"{INNER_UID} {outer_uid} 1\n")
    with open("/proc/self/gid_map", "w") as fh:
        fh.write(f"{INNER_UID} {outer_gid} 1\n")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def drop_capabilities() -> None:
    """Give up every capability (bounding, ambient, effective, permitted, inheritable)."""
    try:
        last = int(open("/proc/sys/kernel/cap_last_cap").read())
    except (OSError, ValueError):
        last = 40
    for cap in range(last + 1):
        _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    _check(_libc.syscall(ctypes.c_long(SYS_CAPSET), ctypes.byref(header), ctypes.byref(data)), "capset")
    with open("/proc/self/status") as fh:
        eff = next((line.split()[1] for line in fh if line.startswith("CapEff:")), "0")
    if int(eff, 16) != 0:
        raise OSError("capabilities are still in force after capset")


# ---------------------------------------------------------------------------- private root
def _bind(source: str, target: str) -> None:
    if os.path.isdir(source):
        os.makedirs(target, mode=0o755, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        if not os.path.exists(target):
            open(target, "w").close()
    mount(source, target, None, MS_BIND | MS_REC)
    set_mount_readonly(target, recursive=True)


def _mirror(source: str, newroot: str) -> None:
    """Bring ``source`` into the new root: a symlink as a symlink, anything else as a read-only bind."""
    target = newroot + source
    if os.path.islink(source):
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        if not os.path.lexists(target):
            os.symlink(os.readlink(source), target)
    elif os.path.exists(source):
        _bind(source, target)


def _tmpfs(target: str, options: str, flags: int = MS_NOSUID | MS_NODEV) -> None:
    os.makedirs(target, mode=0o755, exist_ok=True)
    mount("tmpfs", target, "tmpfs", flags, options)


def _pivot_root(newroot: str) -> None:
    """Make ``newroot`` the root and detach the old one (pivot_root(".", ".") idiom)."""
    os.chdir(newroot)
    _check(_libc.syscall(ctypes.c_long(SYS_PIVOT_ROOT), b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", ctypes.c_int(MNT_DETACH)), "umount old root")
    os.chdir("/")


def setup_private_root(workdir: str, expose: list[str], disk_mb: int, inodes: int, shm_mb: int,
                       uid: int | None, gid: int | None) -> None:
    """Called by the namespace's init (capable inside its mount namespace).

    Builds the session's root on a tmpfs mounted over ``workdir`` (an empty directory the parent
    made for this session), pivots into it, then mounts the session's working directory, a
    tmpfs bounded by ``disk_mb`` and ``inodes``, at the same path inside."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing propagates back to the host
    newroot = os.path.realpath(workdir)
    mount("tmpfs", newroot, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=4096,mode=755")
    for path in SYSTEM_DIRS:
        _mirror(path, newroot)
    for name in ETC_ENTRIES:
        _mirror(os.path.join("/etc", name), newroot)
    for path in expose:
        if os.path.exists(path):
            _bind(path, newroot + path)
    _tmpfs(newroot + "/dev", "size=64k,nr_inodes=64,mode=755", MS_NOSUID | MS_NOEXEC)
    for node in DEV_NODES:
        if os.path.exists("/dev/" + node):
            _bind("/dev/" + node, f"{newroot}/dev/{node}")
    for name, dest in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                       ("stderr", "/proc/self/fd/2")):
        os.symlink(dest, f"{newroot}/dev/{name}")
    if shm_mb > 0:  # multiprocessing needs a writable /dev/shm: a small private one
        _tmpfs(newroot + "/dev/shm", f"size={int(shm_mb)}m,nr_inodes={max(64, inodes // 16)},mode=1777",
               MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.makedirs(newroot + "/proc", mode=0o755, exist_ok=True)
    mount("proc", newroot + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for path in ("/tmp", "/var/tmp", "/run", "/etc"):
        os.makedirs(newroot + path, mode=0o755, exist_ok=True)
    os.makedirs(newroot + newroot, mode=0o755, exist_ok=True)
    _pivot_root(newroot)
    owner = "" if uid is None else f",uid={uid},gid={gid}"
    mount("tmpfs", newroot, "tmpfs", MS_NOSUID | MS_NODEV,
          f"size={int(disk_mb)}m,nr_inodes={int(inodes)},mode=700{owner}")
    set_mount_readonly("/dev", recursive=False)
    set_mount_readonly("/", recursive=False)


# ---------------------------------------------------------------------------- limits
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
    _set(resource.RLIMIT_MEMLOCK, 0)
    if max_open_files:
        _set(resource.RLIMIT_NOFILE, int(max_open_files))


def drop_privileges(uid: int, gid: int) -> None:
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise OSError("privilege drop did not take effect")
