"""Parent-side handle of one session: start the process tree, run a cell, kill it all.

A ``Session`` is used by one thread at a time (the ``Sandbox`` holds its lock around every
call).  Any sign that the worker is not answering as expected (deadline passed, end of file,
malformed or oversized frame) ends in ``kill()``: SIGKILL to the launcher's whole process
group, which includes the namespace's init, whose death takes every descendant with it.
"""
from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from . import cgroups, protocol
from .result import ExecResult, cap_text, escape_controls


class SandboxStartError(RuntimeError):
    """A session's process tree could not be started."""


_cgroup_ids = itertools.count()


_SIGNAL_HINTS = {
    signal.SIGKILL: "was killed (SIGKILL: a memory, process or CPU limit, or the code killed itself)",
    signal.SIGXCPU: "was stopped by the CPU time limit",
    signal.SIGSEGV: "crashed (segmentation fault)",
    signal.SIGABRT: "aborted",
    signal.SIGXFSZ: "was stopped by the file size limit",
}


def describe_exit(code: int | None) -> str:
    if code is None:
        return "The Python process died."
    if code < 0:  # the launcher itself was killed (the cgroup's OOM killer): -signal
        code = 128 - code
    if code >= 128:
        sig = code - 128
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        hint = _SIGNAL_HINTS.get(sig, f"was killed by {name}")
        return f"The Python process {hint}."
    if code == 3:
        return "The Python process ran out of memory."
    return f"The Python process exited with code {code}."


PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# The launcher is started from the same code as this process (a checkout on PYTHONPATH would
# otherwise lose to an installed copy under ``python -I``); it imports all it needs before the
# private root hides that checkout.
_BOOT = "import sys; sys.path.insert(0, sys.argv[1]); from nmframe.sandbox.launcher import main; main(sys.argv[2:])"


def _is_within(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def interpreter_paths(python: str) -> list[str]:
    """What a worker may read besides the system directories: the interpreter's prefixes and
    the installed packages on sys.path.  Never the working directory, sys.path[0] or this
    checkout, nor any directory above them (that would expose them too)."""
    hidden = {os.path.realpath(os.getcwd()), os.path.realpath(PACKAGE_ROOT)}
    if sys.path and sys.path[0]:
        hidden.add(os.path.realpath(sys.path[0]))
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             os.path.dirname(os.path.realpath(python)), os.path.dirname(os.path.abspath(python))}
    paths.update(p for p in sys.path[1:] if p and os.path.isabs(p) and os.path.isdir(p))
    candidates = sorted({os.path.realpath(p) for p in paths} | {os.path.abspath(p) for p in paths})
    allowed = [p for p in candidates if os.path.isdir(p) and p != "/"
               and not any(_is_within(h, p) for h in hidden)]
    # Keep only outermost entries: a bind of a directory carries its subdirectories.
    out: list[str] = []
    for p in allowed:
        if not any(_is_within(p, q) for q in out):
            out.append(p)
    return out


def minimal_env(workdir: str, extra: dict | None = None) -> dict:
    """The whole environment a session sees: nothing is inherited from the parent."""
    bindir = os.path.dirname(sys.executable)
    env = {
        "PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": workdir,
        "TMPDIR": workdir,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONIOENCODING": "utf-8",
        "PYTHONUNBUFFERED": "1",
        "MPLBACKEND": "Agg",
        # One thread per BLAS/OpenMP pool: threads count against RLIMIT_NPROC.
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NUMEXPR_NUM_THREADS": "1",
    }
    if extra:
        env.update({str(k): str(v) for k, v in extra.items()})
    return env


class Session:
    def __init__(self, session_id: str, cfg: dict, uid: int | None, on_hello=None) -> None:
        self.session_id = session_id
        self.cfg = cfg
        self.uid = uid
        self._on_hello = on_hello  # checks the worker's isolation report before any cell runs
        self.lock = threading.Lock()
        self.proc: subprocess.Popen | None = None
        self.rfd = -1
        self.wfd = -1
        self.workdir: str | None = None
        self.isolation: dict | None = None
        self.started_once = False
        self.pending_reset = False
        self.in_use = 0
        self.cold_start_s = 0.0
        self.closed = False
        self.seq = 0
        self.cgroup_paths: list[str] = []

    # ------------------------------------------------------------------ lifecycle
    @property
    def alive(self) -> bool:
        return self.proc is not None

    def start(self) -> None:
        t0 = time.monotonic()
        self.workdir = tempfile.mkdtemp(prefix="nmframe-sb-", dir=self.cfg.get("workdir_root"))
        os.chmod(self.workdir, 0o700)
        cfg = dict(self.cfg, workdir=self.workdir, uid=self.uid, gid=self.uid)
        cfg.pop("workdir_root", None)
        parents = cfg.pop("cgroup_parents", None) or {}
        if parents:
            # The whole session: the worker's memory_mb plus the launcher's and init's share.
            try:
                self.cgroup_paths = cgroups.create(parents, f"nmframe-sb-{os.getpid()}-{next(_cgroup_ids)}",
                                                   (int(cfg["memory_mb"]) + 96) << 20, int(cfg["max_processes"]) + 4)
                cfg["cgroup_paths"] = self.cgroup_paths
                cfg["cgroup_kind"] = "v2" if "v2" in parents else "v1:" + ",".join(sorted(parents))
            except OSError as exc:  # reported by the worker's isolation report, not fatal
                cfg["cgroup_error"] = f"cgroup: {exc}"
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [cfg["python"], "-I", "-c", _BOOT, PACKAGE_ROOT, json.dumps(cfg)],
                stdin=req_r, stdout=resp_w, stderr=subprocess.PIPE,
                env=minimal_env(self.workdir, cfg.get("env")), cwd="/",
                start_new_session=True, close_fds=True,
            )
        except BaseException:
            for fd in (req_r, req_w, resp_r, resp_w):
                os.close(fd)
            self._remove_workdir()
            cgroups.remove(self.cgroup_paths)
            self.cgroup_paths = []
            raise
        os.close(req_r)
        os.close(resp_w)
        self.rfd, self.wfd = resp_r, req_w
        deadline = time.monotonic() + float(cfg["start_timeout"])
        try:
            hello = protocol.read_frame(self.rfd, deadline, 1 << 20)
        except (protocol.ProtocolError, protocol.Deadline) as exc:
            detail = self._stderr_tail()
            self.kill()
            raise SandboxStartError(f"session {self.session_id!r} failed to start ({exc!r}): {detail}") from exc
        if "fatal" in hello or not hello.get("hello"):
            self.kill()
            raise SandboxStartError(f"session {self.session_id!r} failed to start: {hello.get('fatal', hello)}")
        # The launcher and init no longer write to stderr: stop listening so it can never fill.
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        self.isolation = hello.get("isolation") or {}
        if self._on_hello is not None:
            try:
                self._on_hello(self.isolation)
            except BaseException:
                self.kill()
                raise
        self.cold_start_s = time.monotonic() - t0
        self.started_once = True

    def _stderr_tail(self) -> str:
        if self.proc is None or self.proc.stderr is None:
            return ""
        try:
            os.set_blocking(self.proc.stderr.fileno(), False)
            data = self.proc.stderr.read(8192) or b""
        except (OSError, ValueError):
            data = b""
        return data.decode("utf-8", "replace")

    def kill(self) -> int | None:
        """SIGKILL the whole tree and release everything; returns the launcher's exit code."""
        code = None
        proc, self.proc = self.proc, None
        if proc is not None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                code = proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover - a D-state process
                code = None
            if proc.stderr is not None and not proc.stderr.closed:
                proc.stderr.close()
        for attr in ("rfd", "wfd"):
            fd = getattr(self, attr)
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
                setattr(self, attr, -1)
        self._remove_workdir()
        if self.cgroup_paths:
            cgroups.remove(self.cgroup_paths)
            self.cgroup_paths = []
        return code

    def _exit_code_soon(self, wait_s: float = 2.0) -> int | None:
        if self.proc is None:
            return None
        try:
            return self.proc.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            return None

    def _remove_workdir(self) -> None:
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def close(self) -> None:
        self.closed = True
        self.kill()

    # ------------------------------------------------------------------ execution
    def execute(self, code: str, timeout: float, _restarted: bool = False) -> ExecResult:
        cfg = self.cfg
        limit = int(cfg["output_chars"])
        reset = False
        if self.proc is not None and protocol.pending(self.rfd):
            # A frame that answers no request (a cell wrote to the protocol pipe): the session
            # cannot be trusted any more, so it restarts before this cell runs.
            self.kill()
        if self.proc is None:
            reset = self.started_once or self.pending_reset
            self.pending_reset = False
            self.start()
        cpu = float(cfg.get("cpu_seconds") or (timeout + 1.0))
        t0 = time.monotonic()
        # The worker interrupts itself at `timeout`; the hard deadline is only the backstop.
        deadline = t0 + timeout + float(cfg["grace_s"])
        self.seq += 1
        seq = self.seq
        frame = protocol.encode({"op": "exec", "seq": seq, "code": code, "timeout": timeout, "cpu": cpu})
        max_frame = 65536 + 16 * limit
        try:
            protocol.write_all(self.wfd, frame, deadline)
            resp = protocol.read_frame(self.rfd, deadline, max_frame)
            answered = resp.get("seq")
            if answered != seq:
                if isinstance(answered, int) and 0 < answered < seq and not _restarted:
                    # The answer to an earlier request arrived late (a cell forged that one's
                    # answer): nothing this session says can be matched any more.  Restart it
                    # and run this cell there.
                    self.kill()
                    return self.execute(code, timeout, _restarted=True)
                raise protocol.ProtocolError(f"a frame answered request {answered!r}, not {seq}")
        except protocol.Deadline:
            self.kill()
            return ExecResult(
                status="timeout", duration_s=time.monotonic() - t0, session_reset=reset, session_lost=True,
                session_id=self.session_id,
                message=(f"TimeoutError: execution exceeded the {timeout:g} s time limit and was killed; "
                         "the Python session was reset; earlier variables are lost."),
            )
        except (protocol.ProtocolError, OSError) as exc:
            code_ = self._exit_code_soon() if isinstance(exc, (protocol.PeerClosed, OSError)) else None
            self.kill()
            why = describe_exit(code_) if code_ is not None else f"The Python process stopped answering ({exc})."
            return ExecResult(
                status="killed", duration_s=time.monotonic() - t0, session_reset=reset, session_lost=True,
                session_id=self.session_id,
                message=f"{why} The Python session was reset; earlier variables are lost.",
            )
        status = resp.get("status")
        if status not in ("ok", "error", "timeout", "killed"):
            status = "error"
        return ExecResult(
            status=status,
            stdout=escape_controls(cap_text(str(resp.get("stdout", "")), limit + 200, cfg.get("truncate", "head"))),
            stderr=escape_controls(cap_text(str(resp.get("stderr", "")), limit + 200, "tail")),
            message=escape_controls(str(resp.get("message", ""))[:1000]),
            duration_s=time.monotonic() - t0,
            session_reset=reset,
            session_id=self.session_id,
        )
