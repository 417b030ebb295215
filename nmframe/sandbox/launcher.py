"""Entry point of a session's process tree: ``python -I -m nmframe.sandbox.launcher CONFIG``.

Three processes per session, each with one job:
- launcher (root when the parent is): creates the namespaces, forks the init and then only
  watches two things: the init's exit (it exits with the same code) and the request pipe's
  hang-up, which means the parent died, in which case it SIGKILLs the init;
- init (PID 1 of the new PID namespace): sets up the mounts, forks the worker and reaps
  orphans; when the worker exits it exits, and the kernel then kills everything left in the
  namespace, so no descendant of user code can outlive its session;
- worker: applies resource limits, drops to the session's unprivileged uid and serves cells.
The launcher gets the request pipe as fd 0 and the response pipe as fd 1.
"""
from __future__ import annotations

import json
import os
import select
import signal
import sys
import traceback

from . import isolation, protocol

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
        workdir = cfg["workdir"]
        uid, gid = cfg.get("uid"), cfg.get("gid")
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.close(devnull)
        isolation.apply_limits(cfg["memory_mb"], cfg["cpu_hard"], cfg["cpu_hard"], cfg["max_processes"],
                               cfg["max_file_mb"], cfg["max_open_files"])
        if uid is not None:
            isolation.drop_privileges(uid, gid)
        try:
            isolation.no_new_privs()
        except OSError:
            pass
        os.umask(0o077)
        os.chdir(workdir)
        if not info["netns"] or not info["mountns"]:
            from .worker import install_audit_guard

            install_audit_guard(workdir)
        from .worker import Worker

        worker = Worker(rfd, wfd, cfg)
        for mod in cfg.get("preload") or ():
            try:
                __import__(mod)
            except Exception:  # noqa: BLE001 - a missing optional module must not kill the session
                pass
        info = dict(info, uid=os.getuid(), worker_pid=os.getpid())
    except BaseException:  # noqa: BLE001
        _fatal(wfd, "worker setup failed:\n" + traceback.format_exc())
    worker.serve({"hello": True, "isolation": info})
    os._exit(0)


def _init_main(cfg: dict, info: dict, rfd: int, wfd: int) -> None:
    try:
        if info["mountns"]:
            try:
                info["covered"] = isolation.setup_mounts(cfg["workdir"], cfg["disk_mb"], cfg.get("uid"),
                                                         cfg.get("gid"), cfg["shm_mb"], cfg.get("expose", []))
            except OSError as exc:
                info["mountns"] = False
                info["mount_error"] = str(exc)
        if info["utsns"]:
            isolation.sethostname("sandbox")
        if not info["mountns"] and cfg.get("uid") is not None:
            blocked = [p for p in cfg.get("expose", []) if isolation.hidden_ancestor(p)]
            if blocked:
                # Without a mount namespace the uid could not even import the standard
                # library: keep the parent's uid and say so.
                info["errors"].append(f"not dropping to a dedicated uid: {blocked[0]} is unreadable to it")
                info["uid"] = None
                cfg["uid"] = cfg["gid"] = None
                cfg["reap_strays"] = False
        if not info["mountns"] and cfg.get("uid") is not None:
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


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    cfg = json.loads(argv[0])
    rfd = os.dup(0)  # protocol descriptors, close-on-exec so subprocesses never inherit them
    wfd = os.dup(1)
    info = {"netns": False, "pidns": False, "mountns": False, "ipcns": False, "utsns": False,
            "uid": cfg.get("uid"), "errors": []}
    if cfg.get("namespaces", True) and os.geteuid() == 0:
        try:
            isolation.unshare(_NS_FLAGS)
            info.update(netns=True, pidns=True, mountns=True, ipcns=True, utsns=True)
        except OSError as exc:
            info["errors"].append(f"unshare(all): {exc}")
            try:
                isolation.unshare(isolation.CLONE_NEWNET)
                info["netns"] = True
            except OSError as exc2:
                info["errors"].append(f"unshare(net): {exc2}")
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
