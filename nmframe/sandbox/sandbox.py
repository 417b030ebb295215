"""The public entry point: many named, stateful, isolated Python sessions.

``Sandbox.execute`` is safe to call from many threads at once.  Calls for different session
ids run in parallel (each session has its own lock and its own process); calls for the same
id are serialised, as a notebook runs one cell at a time.  At most ``max_sessions`` sessions
stay alive: starting another evicts the least recently used idle one, whose next call then
reports ``session_reset=True``.
"""
from __future__ import annotations

import os
import sys
import threading
from collections import OrderedDict

from .result import ExecResult
from . import cgroups
from .session import SandboxStartError, Session, interpreter_paths

# Dedicated uids for sessions (when the parent is root), never reused within a process, so
# RLIMIT_NPROC counts each session's processes alone and nothing one session leaves behind
# under its uid meets a later one.  The block depends on the parent's pid so that two
# sandboxes on one machine rarely share one; none of these uids owns any file, and the
# per-uid kernel keyring is closed to every session by the seccomp filter.
_UID_SPAN = 1 << 20
_uid_lock = threading.Lock()
_uid_next = 0


def _default_uid_base() -> int:
    return (1 << 28) + (os.getpid() % 3800) * _UID_SPAN


def _acquire_uid(base: int) -> int:
    global _uid_next
    with _uid_lock:
        if _uid_next >= _UID_SPAN:
            raise SandboxStartError(f"all {_UID_SPAN} sandbox uids of this process have been used")
        uid = base + _uid_next
        _uid_next += 1
        return uid


# What full isolation needs, and the one-line name of each part when it is missing.
REQUIRED = {
    "netns": "network namespace",
    "pidns": "PID namespace",
    "mountns": "mount namespace",
    "private_root": "private root file system",
    "seccomp": "seccomp filter",
    "unprivileged": "unprivileged uid without capabilities",
}


def describe_isolation(info: dict, cgroup_note: str = "") -> dict:
    """Complete a worker's isolation report with ``mode``, ``missing`` and ``limits``."""
    info = dict(info)
    info["unprivileged"] = bool(info.get("uid")) and not info.get("capabilities", True)
    missing = [label for key, label in REQUIRED.items() if not info.get(key)]
    info["missing"] = missing
    info["mode"] = "isolated" if not missing else ("unisolated" if len(missing) == len(REQUIRED) else "partial")
    if not info.get("cgroup") and cgroup_note:
        info.setdefault("errors", []).append(cgroup_note)
    return info


class Sandbox:
    """A pool of isolated, persistent Python sessions keyed by ``session_id``.

    Limits are per session: ``memory_mb`` (address space of each process), ``cpu_seconds``
    (CPU budget of one cell; default: the cell's timeout + 1 s), ``session_cpu_seconds`` (CPU
    budget of a session's life, enforced by the kernel with SIGKILL), ``max_processes``
    (processes + threads of the session's uid), ``max_file_mb`` (largest file, including the
    output capture), ``disk_mb`` (size of the private working directory), ``output_chars``
    (cap on stdout and on stderr, each), ``disk_inodes`` (files in it), ``shm_mb`` (/dev/shm).
    ``namespaces=False`` and ``seccomp=False`` switch those parts off (then only the
    best-effort in-process guard stands between the code and the network and file system: see
    ``isolation``).  ``require_isolation=True`` refuses to start a session, before any cell
    runs, when a part of full isolation is missing (``REQUIRED``), with one line naming it.
    ``cgroup_parent`` names a delegated cgroup for the sessions' own groups (see ``cgroups``;
    default: this process's own group, used when it is writable).

    Memory is bounded per process (``memory_mb``) and, with a session cgroup, for the whole
    session including the kernel memory it causes (tmpfs, shared memory, slab); without one,
    memfd and System V shared memory are refused by the seccomp filter and every tmpfs is bounded
    in size and inodes, so a session holds at most about ``memory_mb * max_processes`` plus its
    tmpfs sizes.
    """

    def __init__(
        self,
        max_sessions: int = 64,
        memory_mb: int = 2048,
        cpu_seconds: float | None = None,
        max_processes: int = 32,
        max_file_mb: int = 64,
        output_chars: int = 1000,
        default_timeout: float = 10.0,
        *,
        session_cpu_seconds: int = 3600,
        disk_mb: int = 256,
        shm_mb: int = 64,
        max_open_files: int = 1024,
        grace_s: float = 1.0,
        start_timeout: float = 60.0,
        truncate: str = "head",
        namespaces: bool = True,
        require_isolation: bool = False,
        run_as_uid: bool = True,
        uid_base: int | None = None,
        disk_inodes: int = 16384,
        seccomp: bool = True,
        use_cgroup: bool = True,
        cgroup_parent: str | None = None,
        preload: tuple[str, ...] = (),
        env: dict | None = None,
        python: str | None = None,
        workdir_root: str | None = None,
    ) -> None:
        if truncate not in ("head", "tail", "middle"):
            raise ValueError("truncate must be 'head', 'tail' or 'middle'")
        if max_sessions < 1:
            raise ValueError("max_sessions must be >= 1")
        self.max_sessions = int(max_sessions)
        self.default_timeout = float(default_timeout)
        self.require_isolation = require_isolation
        self._root = os.geteuid() == 0
        self._uid_base = _default_uid_base() if uid_base is None else int(uid_base)
        self._use_uid = bool(run_as_uid and self._root)
        parents, self._cgroup_note = cgroups.find_parents(cgroup_parent) if use_cgroup else ({}, "cgroup disabled")
        self.cfg = {
            "memory_mb": int(memory_mb),
            "cpu_seconds": cpu_seconds,
            "cpu_hard": int(session_cpu_seconds),
            "max_processes": int(max_processes),
            "max_file_mb": int(max_file_mb),
            "max_open_files": int(max_open_files),
            "disk_mb": int(disk_mb),
            "shm_mb": int(shm_mb),
            "output_chars": int(output_chars),
            "grace_s": float(grace_s),
            "start_timeout": float(start_timeout),
            "truncate": truncate,
            "namespaces": bool(namespaces),
            "reap_strays": self._use_uid,
            "disk_inodes": int(disk_inodes),
            "seccomp": bool(seccomp),
            "cgroup_parents": parents,
            "preload": list(preload),
            "env": dict(env or {}),
            "python": python or sys.executable,
            "expose": interpreter_paths(python or sys.executable),
            "workdir_root": workdir_root,
        }
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._evicted: OrderedDict[str, None] = OrderedDict()
        self._isolation: dict | None = None
        self._closed = False

    # ------------------------------------------------------------------ context manager
    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - best effort at interpreter exit
        try:
            self.close()
        except Exception:
            pass

    # ------------------------------------------------------------------ session registry
    def _checkout(self, session_id: str) -> tuple[Session, list[Session]]:
        victims: list[Session] = []
        with self._lock:
            if self._closed:
                raise RuntimeError("the sandbox is closed")
            sess = self._sessions.get(session_id)
            if sess is None:
                uid = _acquire_uid(self._uid_base) if self._use_uid else None
                sess = Session(session_id, self.cfg, uid, on_hello=self._check_isolation)
                if session_id in self._evicted:
                    del self._evicted[session_id]
                    sess.pending_reset = True
                self._sessions[session_id] = sess
                for sid, other in list(self._sessions.items()):
                    if len(self._sessions) <= self.max_sessions:
                        break
                    if other is not sess and other.in_use == 0:
                        del self._sessions[sid]
                        victims.append(other)
                        if other.started_once:
                            self._evicted[sid] = None
                while len(self._evicted) > 16 * self.max_sessions + 1024:
                    self._evicted.popitem(last=False)
            self._sessions.move_to_end(session_id)
            sess.in_use += 1
        return sess, victims

    def _checkin(self, sess: Session) -> None:
        with self._lock:
            sess.in_use -= 1

    # ------------------------------------------------------------------ public API
    def execute(self, code: str, session_id: str = "default", timeout: float | None = None) -> ExecResult:
        """Run ``code`` as the next cell of session ``session_id``."""
        timeout = self.default_timeout if timeout is None else float(timeout)
        sess, victims = self._checkout(session_id)
        for victim in victims:
            with victim.lock:
                victim.close()
        try:
            with sess.lock:
                if sess.closed:
                    raise RuntimeError(f"session {session_id!r} was closed while in use")
                result = sess.execute(code, timeout)
                if sess.isolation is not None and self._isolation is None:
                    self._isolation = sess.isolation
                return result
        finally:
            self._checkin(sess)

    def _check_isolation(self, info: dict) -> None:
        missing = describe_isolation(info)["missing"]
        if self.require_isolation and missing:
            raise SandboxStartError("untrusted code cannot be isolated on this host: no " + ", no ".join(missing)
                                    + ((" (" + "; ".join(info.get("errors", [])) + ")") if info.get("errors") else ""))

    def reset(self, session_id: str = "default") -> None:
        """Kill the session's process; its next cell starts from an empty state."""
        with self._lock:
            sess = self._sessions.get(session_id)
        if sess is not None:
            with sess.lock:
                sess.kill()
                sess.started_once = False

    def close_session(self, session_id: str = "default") -> None:
        with self._lock:
            sess = self._sessions.pop(session_id, None)
            self._evicted.pop(session_id, None)
        if sess is not None:
            with sess.lock:
                sess.close()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            sessions = list(self._sessions.values())
            self._sessions.clear()
        for sess in sessions:
            with sess.lock:
                sess.close()

    @property
    def live_sessions(self) -> list[str]:
        with self._lock:
            return [sid for sid, s in self._sessions.items() if s.alive]

    @property
    def isolation(self) -> dict:
        """How sessions are contained here, as reported by a session's worker.

        Keys: ``mode`` ("isolated" when every part of ``REQUIRED`` is in force, "partial" or
        "unisolated" otherwise), ``missing`` (the names of the parts not in force), the parts
        themselves (``netns``, ``pidns``, ``mountns``, ``private_root``, ``seccomp``,
        ``unprivileged``, ``userns``), ``uid`` (the worker's), ``cgroup`` (the session's
        control groups, or None), ``limits`` (the limits set on every session) and ``errors``.
        """
        if self._isolation is None:
            probe = f"__isolation_probe_{id(self)}"
            try:
                self.execute("None", session_id=probe)
            finally:
                self.close_session(probe)
        info = describe_isolation(self._isolation or {}, self._cgroup_note)
        cfg = self.cfg
        info["limits"] = {
            "memory_mb_per_process": cfg["memory_mb"], "max_processes": cfg["max_processes"],
            "max_file_mb": cfg["max_file_mb"], "max_open_files": cfg["max_open_files"],
            "session_cpu_seconds": cfg["cpu_hard"], "disk_mb": cfg["disk_mb"], "disk_inodes": cfg["disk_inodes"],
            "shm_mb": cfg["shm_mb"], "output_chars": cfg["output_chars"],
            "session_memory_cgroup": bool(info.get("cgroup")), "session_pids_cgroup": bool(info.get("cgroup")),
        }
        return info
