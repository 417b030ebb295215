"""The system-call allow-list every sandbox worker runs under (libseccomp through ctypes).

Why an allow-list: namespaces do not cover everything the kernel offers.  The kernel keyring
is per uid, not per namespace (a later session could read a key an earlier one planted),
AF_VSOCK reaches the host from an empty network namespace, io_uring, bpf and perf_event_open
are large attack surfaces, memfd and System V shared memory escape per-process memory limits,
and a further user namespace would hand the code capabilities again.  So a cell may use only
the calls ordinary Python, NumPy/SymPy and a shell pipeline need; anything else fails with
EPERM (clone3 with ENOSYS, so the C library falls back to clone, whose namespace flags are
checked).  Sockets are limited to AF_UNIX, AF_INET and AF_INET6, which the empty network
namespace leaves with nowhere to go.  The filter also sets ``no_new_privs``.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools

from . import isolation

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_EQ = 4
SCMP_CMP_MASKED_EQ = 7

AF_UNIX, AF_INET, AF_INET6 = 1, 2, 10
NAMESPACE_FLAGS = (isolation.CLONE_NEWNS | isolation.CLONE_NEWUTS | isolation.CLONE_NEWIPC
                   | isolation.CLONE_NEWUSER | isolation.CLONE_NEWPID | isolation.CLONE_NEWNET
                   | isolation.CLONE_NEWCGROUP)

ALLOWED = """
read write readv writev pread64 pwrite64 preadv pwritev preadv2 pwritev2 open openat openat2 close
close_range creat stat fstat lstat newfstatat statx statfs fstatfs lseek access faccessat faccessat2
getdents getdents64 getcwd chdir fchdir rename renameat renameat2 mkdir mkdirat rmdir link linkat unlink
unlinkat symlink symlinkat readlink readlinkat chmod fchmod fchmodat fchmodat2 chown fchown lchown fchownat
umask truncate ftruncate fallocate fsync fdatasync sync syncfs sync_file_range flock fcntl dup dup2 dup3
pipe pipe2 ioctl utime utimes utimensat futimesat fadvise64 readahead sendfile splice tee vmsplice
copy_file_range getxattr lgetxattr fgetxattr listxattr llistxattr flistxattr
mmap munmap mprotect mremap msync mincore madvise brk mlock mlock2 munlock mbind set_mempolicy
get_mempolicy pkey_mprotect pkey_alloc pkey_free membarrier map_shadow_stack
rt_sigaction rt_sigprocmask rt_sigreturn rt_sigpending rt_sigtimedwait rt_sigqueueinfo rt_sigsuspend
rt_tgsigqueueinfo sigaltstack pause alarm getitimer setitimer kill tgkill tkill signalfd signalfd4
timer_create timer_settime timer_gettime timer_getoverrun timer_delete timerfd_create timerfd_settime
timerfd_gettime eventfd eventfd2 nanosleep clock_nanosleep clock_gettime clock_getres gettimeofday time
times poll ppoll select pselect6 epoll_create epoll_create1 epoll_ctl epoll_wait epoll_pwait epoll_pwait2
inotify_init inotify_init1 inotify_add_watch inotify_rm_watch futex futex_waitv set_robust_list
get_robust_list set_tid_address rseq restart_syscall sched_yield sched_getaffinity sched_setaffinity
sched_getparam sched_setparam sched_getscheduler sched_setscheduler sched_get_priority_max
sched_get_priority_min sched_rr_get_interval sched_getattr sched_setattr getcpu getpriority setpriority
fork vfork execve execveat exit exit_group wait4 waitid pidfd_open pidfd_send_signal
getpid getppid gettid getpgid setpgid getpgrp getsid setsid getuid geteuid getgid getegid getresuid
getresgid getgroups setuid setgid setreuid setregid setresuid setresgid setgroups setfsuid setfsgid capget
getrlimit setrlimit prlimit64 getrusage sysinfo uname arch_prctl prctl getrandom
connect accept accept4 bind listen sendto recvfrom sendmsg recvmsg sendmmsg recvmmsg shutdown
getsockname getpeername setsockopt getsockopt
semget semop semtimedop semctl
""".split()

# Denied by name, whatever a future edit of ALLOWED says (the reasons are in the docstring).
NEVER = frozenset("""
keyctl add_key request_key io_uring_setup io_uring_enter io_uring_register bpf perf_event_open
unshare setns mount umount2 pivot_root chroot fsopen fsmount fsconfig fspick move_mount open_tree
mount_setattr ptrace process_vm_readv process_vm_writev kcmp memfd_create memfd_secret shmget shmat
shmctl shmdt userfaultfd open_by_handle_at name_to_handle_at capset init_module finit_module
delete_module kexec_load kexec_file_load reboot swapon swapoff acct quotactl settimeofday clock_settime
clock_adjtime adjtimex personality lookup_dcookie syslog vhangup iopl ioperm
""".split())


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


def _errno_action(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)


@functools.lru_cache(maxsize=1)
def _lib():
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    lib = ctypes.CDLL(name, use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.restype = ctypes.c_int
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.restype = ctypes.c_int
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                           ctypes.POINTER(_ArgCmp)]
    lib.seccomp_load.restype = ctypes.c_int
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    return lib


def available() -> str | None:
    """None when a filter can be built here, else why not (one line)."""
    try:
        _lib()
    except OSError as exc:
        return f"libseccomp is not installed ({exc})"
    return None


def install() -> None:
    """Load the allow-list into this (single-threaded) process; it is inherited by every child."""
    lib = _lib()
    ctx = lib.seccomp_init(_errno_action(errno.EPERM))
    if not ctx:
        raise OSError("seccomp_init failed")
    try:
        def rule(action: int, name: str, *cmps: tuple[int, int, int, int]) -> None:
            nr = lib.seccomp_syscall_resolve_name(name.encode())
            if nr < 0:
                return  # not a call of this architecture
            arr = (_ArgCmp * max(1, len(cmps)))(*[_ArgCmp(*c) for c in cmps])
            ret = lib.seccomp_rule_add_array(ctx, action, nr, len(cmps), arr)
            if ret != 0:
                raise OSError(-ret, f"seccomp rule for {name}: error {ret}")

        for name in ALLOWED:
            if name not in NEVER:
                rule(SCMP_ACT_ALLOW, name)
        rule(SCMP_ACT_ALLOW, "clone", (0, SCMP_CMP_MASKED_EQ, NAMESPACE_FLAGS, 0))
        rule(_errno_action(errno.ENOSYS), "clone3")
        for family in (AF_UNIX, AF_INET, AF_INET6):
            rule(SCMP_ACT_ALLOW, "socket", (0, SCMP_CMP_EQ, family, 0))
        rule(SCMP_ACT_ALLOW, "socketpair", (0, SCMP_CMP_EQ, AF_UNIX, 0))
        ret = lib.seccomp_load(ctx)
        if ret != 0:
            raise OSError(-ret, f"seccomp_load failed: error {ret}")
    finally:
        lib.seccomp_release(ctx)
