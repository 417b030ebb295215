"""Entry point of a session's process tree (started by ``Session.start`` with ``python -I``).

Three processes per session, each with one job:
- launcher: joins the session's cgroup, creates the namespaces (with a user namespace when
  the parent is not root), forks the init and then only watches two things: the init's exit
  (it exits with the same code) and the request pipe's hang-up, which means the parent died,
  in which case it SIGKILLs the init;
- init (PID 1 of the new PID namespace): builds the private root, forks the worker and reaps
  orphans; when the worker exits it exits, and the kernel then kills everything left in the
  namespace, so no descendant of user code can outlive its session;
- worker: applies resource limits, gives up its privileges, loads the seccomp filter and
  serves cells.
The launcher gets the request pipe as fd 0 and the response pipe as fd 1.  Every module the
worker needs is imported here, before the private root hides the checkout it comes from.
"""
from __future__ import annotations

import json
import os
import select
import signal
import sys
import traceback

from . import cgroups, isolation, protocol, seccomp
from . import capture, result, worker  # noqa: F401 - imported before the root is replaced

_NS_FLAGS = (isolation.CLONE_NEWNS | isolation.CLONE_NEWNET | isolation.CLONE_NEWPID
             | isolation.CLONE_NEWIPC | isolation.CLONE_NEWUTS)


def _exit_code(status: int) -> int:
    """Pass a child's wait status on as an exit code (128 + signal, like a shell)."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status) & 0xFF


def _fatal(wfd: int, msg: str) -> None:
    try:
        protocol.write_all(wfd, protocol.encode({"fatal": msg}))
    finally:
        os._exit(70)


def _worker_main(cfg: dict, info: dict, rfd: int, wfd: int) -> None:
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.close(devnull)
        isolation.apply_limits(cfg["memory_mb"], cfg["cpu_hard"], cfg["cpu_hard"], cfg["max_processes"],
                               cfg["max_file_mb"], cfg["max_open_files"])
        if info["userns"]:
            isolation.drop_capabilities()
        elif cfg.get("uid") is not None:
            isolation.drop_privileges(cfg["uid"], cfg["gid"])
        try:
            isolation.no_new_privs()
        except OSError:
            pass
        os.umask(0o077)
        os.chdir(cfg["workdir"])
        if not (info["netns"] and info["private_root"]):
            worker.install_audit_guard(cfg["workdir"])
        # Killing every process the worker may signal is safe in a PID namespace or as a
        # dedicated uid: either way that is only the session's own processes.
        cfg["reap_strays"] = bool(info["pidns"] or (cfg.get("uid") is not None and not info["userns"]))
        served = worker.Worker(rfd, wfd, cfg)
        for mod in cfg.get("preload") or ():
            try:
                __import__(mod)
            except Exception:  # noqa: BLE001 - a missing optional module must not kill the session
                pass
        if cfg.get("seccomp", True):
            try:
                seccomp.install()
                info["seccomp"] = True
            except OSError as exc:
                info["errors"].append(f"seccomp: {exc}")
        caps = "0"
        with open("/proc/self/status") as fh:
            caps = next((line.split()[1] for line in fh if line.startswith("CapEff:")), "0")
        info = dict(info, uid=os.getuid(), worker_pid=os.getpid(), capabilities=int(caps, 16) != 0)
    except BaseException:  # noqa: BLE001
        _fatal(wfd, "worker setup failed:\n" + traceback.format_exc())
    served.serve({"hello": True, "isolation": info})
    os._exit(0)


def _init_main(cfg: dict, info: dict, rfd: int, wfd: int) -> None:
    try:
        if info["mountns"]:
            try:
                inner = isolation.INNER_UID if info["userns"] else cfg.get("uid")
                isolation.setup_private_root(cfg["workdir"], cfg.get("expose", []), cfg["disk_mb"],
                                             cfg["disk_inodes"], cfg["shm_mb"], inner, inner)
                info["private_root"] = True
            except OSError as exc:  # reported (and refused under require_isolation), not fatal
                info["errors"].append(f"private root: {exc}")
        if info["utsns"]:
            isolation.sethostname("sandbox")
        if not info["private_root"] and cfg.get("uid") is not None:
            os.chown(cfg["workdir"], cfg["uid"], cfg["gid"])
            os.chmod(cfg["workdir"], 0o700)
        pid = os.fork()
    except BaseException:  # noqa: BLE001
        _fatal(wfd, "session init failed:\n" + traceback.format_exc())
    if pid == 0:
        _worker_main(cfg, info, rfd, wfd)
    os.close(rfd)
    os.close(wfd)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    while True:
        try:
            done, status = os.wait()
        except ChildProcessError:
            os._exit(0)
        except InterruptedError:
            continue
        if done == pid:
            os._exit(_exit_code(status))


def _enter_namespaces(cfg: dict, info: dict) -> None:
    if not cfg.get("namespaces", True):
        info["errors"].append("namespaces disabled by the caller")
        return
    try:
        if os.geteuid() == 0:
            isolation.unshare(_NS_FLAGS)
        else:
            isolation.enter_user_namespace(_NS_FLAGS, os.geteuid(), os.getegid())
            info["userns"] = True
        info.update(netns=True, pidns=True, mountns=True, ipcns=True, utsns=True)
    except OSError as exc:
        info["errors"].append(f"unshare: {exc}")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    cfg = json.loads(argv[0])
    if cfg.get("seccomp", True):
        seccomp.available()  # load libseccomp now: the private root has no loader search tools
    rfd = os.dup(0)  # protocol descriptors, close-on-exec so subprocesses never inherit them
    wfd = os.dup(1)
    info = {"userns": False, "netns": False, "pidns": False, "mountns": False, "ipcns": False,
            "utsns": False, "private_root": False, "seccomp": False, "uid": cfg.get("uid"),
            "cgroup": None, "errors": []}
    if cfg.get("cgroup_error"):
        info["errors"].append(cfg["cgroup_error"])
    if cfg.get("cgroup_paths"):
        try:
            cgroups.join(cfg["cgroup_paths"])
            info["cgroup"] = cfg.get("cgroup_kind")
        except OSError as exc:
            info["errors"].append(f"cgroup join: {exc}")
    _enter_namespaces(cfg, info)
    pid = os.fork()
    if pid == 0:
        try:
            _init_main(cfg, info, rfd, wfd)
        finally:
            os._exit(71)
    os.close(wfd)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)  # the launcher must not hold the response pipe open
    os.close(devnull)
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    poller = select.poll()
    poller.register(0, 0)  # only POLLHUP/POLLERR: the parent closed its end or died
    if pidfd is not None:
        poller.register(pidfd, select.POLLIN)
    while True:
        try:
            events = poller.poll(None if pidfd is not None else 200)
        except InterruptedError:
            continue
        for fd, _ in events:
            if fd == 0:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        done, status = os.waitpid(pid, 0 if events else os.WNOHANG)
        if done == pid:
            os._exit(_exit_code(status))


if __name__ == "__main__":
    main()
