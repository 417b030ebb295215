"""The long-lived interpreter behind one session: a Jupyter-like cell loop.

It reads ``{"op": "exec", ...}`` frames, runs each cell in one persistent globals dict, echoes
the value of a final bare expression, and answers with capped stdout/stderr.  Time limits are
enforced here first (SIGALRM for wall time, SIGXCPU for the per-cell CPU budget) so that a
plain runaway loop is interrupted without losing the session; the parent's hard deadline,
which kills the whole process tree, is only the backstop for code that ignores signals.
"""
from __future__ import annotations

import ast
import builtins
import math
import os
import resource
import signal
import sys
import time
import traceback

from . import protocol
from .capture import CappedWriter, FdCapture


class CellInterrupt(BaseException):
    """Raised inside a cell by the worker's own time-limit handlers."""


class CellTimeout(CellInterrupt):
    pass


class CellCPULimit(CellInterrupt):
    pass


class _State:
    in_cell = False
    reason = ""


def _on_alarm(signum, frame):  # noqa: ARG001
    if _State.in_cell:
        raise CellTimeout()


def _on_xcpu(signum, frame):  # noqa: ARG001
    if _State.in_cell:
        raise CellCPULimit()


def _split_last_expression(code: str):
    tree = ast.parse(code, "<cell>", "exec")
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    body = compile(tree, "<cell>", "exec")
    tail = compile(last, "<cell>", "eval") if last is not None else None
    return body, tail


def _format_exception(exc: BaseException) -> str:
    tb = exc.__traceback__
    # Drop the worker's own frames: the model should see only frames of its cell.
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


class Worker:
    def __init__(self, rfd: int, wfd: int, cfg: dict) -> None:
        self.rfd = rfd
        self.wfd = wfd
        self.cfg = cfg
        self.pid = os.getpid()
        self.limit = int(cfg["output_chars"])
        self.keep = cfg.get("truncate", "head")
        self.out = CappedWriter(self.limit, "<stdout>")
        self.err = CappedWriter(self.limit, "<stderr>")
        self.fd_out = FdCapture(1, "stdout")
        self.fd_err = FdCapture(2, "stderr")
        self.cpu_hard = int(cfg.get("cpu_hard", 0))
        self.reap_strays = bool(cfg.get("reap_strays"))
        self.globals = {"__name__": "__main__", "__builtins__": builtins}
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.signal(signal.SIGXCPU, _on_xcpu)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # oversized writes fail with EFBIG instead
        signal.signal(signal.SIGINT, signal.default_int_handler)

    # ------------------------------------------------------------------ cell execution
    def _arm(self, timeout: float, cpu_seconds: float) -> None:
        if self.cpu_hard:
            ru = resource.getrusage(resource.RUSAGE_SELF)
            used = ru.ru_utime + ru.ru_stime
            soft = min(self.cpu_hard, int(math.ceil(used + max(1.0, cpu_seconds))))
            try:
                resource.setrlimit(resource.RLIMIT_CPU, (soft, self.cpu_hard))
            except (ValueError, OSError):
                pass
        if timeout and timeout > 0:
            signal.setitimer(signal.ITIMER_REAL, timeout)

    def run_cell(self, code: str, timeout: float, cpu_seconds: float) -> dict:
        out, err = self.out, self.err
        out.reset()
        err.reset()
        sys.stdout, sys.stderr = out, err
        status, message = "ok", ""
        t0 = time.perf_counter()
        try:
            try:
                body, tail = _split_last_expression(code)
                _State.in_cell = True
                self._arm(timeout, cpu_seconds)
                exec(body, self.globals)
                if tail is not None:
                    value = eval(tail, self.globals)
                    if value is not None:
                        self.globals["_"] = value
                        print(repr(value))
            finally:
                _State.in_cell = False
                signal.setitimer(signal.ITIMER_REAL, 0)
        except CellTimeout:
            status = "timeout"
            message = f"TimeoutError: execution exceeded the {timeout:g} s time limit and was interrupted (variables are kept)."
        except CellCPULimit:
            status = "timeout"
            message = f"TimeoutError: execution exceeded the {cpu_seconds:g} s CPU time limit and was interrupted (variables are kept)."
        except SystemExit as exc:
            code_ = exc.code
            if code_ not in (None, 0):
                status = "error"
                err.write(f"SystemExit: {code_}\n")
        except BaseException as exc:  # noqa: BLE001 - the cell's exception is the result
            status = "error"
            try:
                err.write(_format_exception(exc))
            except BaseException:  # noqa: BLE001 - e.g. MemoryError while formatting
                err.write(f"{type(exc).__name__}\n")
        if os.getpid() != self.pid:
            # A process forked by the cell got here: it must never answer on the protocol.
            os._exit(0)
        duration = time.perf_counter() - t0
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        self._cleanup()
        self.fd_out.drain_into(out)
        self.fd_err.drain_into(err)
        return {
            "status": status,
            "stdout": out.value(self.keep),
            "stderr": err.value("tail"),
            "message": message,
            "cell_s": duration,
        }

    def _cleanup(self) -> None:
        """Kill whatever the cell left running; only safe with a dedicated uid."""
        if not self.reap_strays:
            return
        for _ in range(1000):
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                break
            except PermissionError:
                break
        while True:
            try:
                pid, _ = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            except InterruptedError:
                continue

    # ------------------------------------------------------------------ loop
    def serve(self, hello: dict) -> None:
        protocol.write_all(self.wfd, protocol.encode(hello))
        while True:
            try:
                req = protocol.read_frame(self.rfd, None)
            except protocol.ProtocolError:
                os._exit(0)
            op, seq = req.get("op"), req.get("seq")
            if op == "exec":
                try:
                    resp = self.run_cell(str(req.get("code", "")), float(req.get("timeout") or 0),
                                         float(req.get("cpu") or 0))
                    data = protocol.encode(dict(resp, seq=seq))
                except MemoryError:
                    # Not even the answer fits: die, and the parent restarts the session.
                    os._exit(3)
            elif op == "ping":
                data = protocol.encode({"status": "ok", "seq": seq})
            else:
                data = protocol.encode({"status": "error", "stderr": f"unknown op {op!r}", "seq": seq})
            try:
                protocol.write_all(self.wfd, data)
            except OSError:
                os._exit(0)


def install_audit_guard(workdir: str) -> None:
    """Best-effort guard for when namespaces are unavailable (ctypes can bypass it)."""
    workdir = os.path.realpath(workdir)
    me = os.getpid()

    def hook(event, args):
        if event in ("socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg",
                     "socket.getaddrinfo", "socket.gethostbyname"):
            raise PermissionError(f"network access is disabled in this sandbox ({event})")
        if event == "open":
            path, mode, flags = args
            if isinstance(path, (str, bytes)) and (
                (isinstance(mode, str) and any(c in mode for c in "wax+"))
                or (isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
            ):
                real = os.path.realpath(os.fsdecode(path))
                if not (real == workdir or real.startswith(workdir + os.sep) or real.startswith("/dev/")):
                    raise PermissionError(f"writing outside the working directory is disabled: {real}")
        if event in ("os.kill", "os.killpg"):
            target = args[0]
            if event == "os.kill" and target in (me, os.getpid()):
                return
            raise PermissionError(f"{event} is disabled in this sandbox")

    sys.addaudithook(hook)
