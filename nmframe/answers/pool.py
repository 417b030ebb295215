"""A small pool of persistent grading worker processes with a per-item timeout.

Why processes and not threads or signals: a symbolic comparison can spin inside C code
for ever, and ``SIGALRM`` (math-verify's own timeout) only works in the main thread of
the main interpreter. A worker process can always be killed. Why persistent: starting
one costs about half a second (sympy, math-verify), far more than a comparison, so
workers are kept and reused; only one that overran its time is killed, and a
replacement is started at once so its import runs in the background.

Workers are plain ``subprocess`` children (not ``multiprocessing``), so a pool can be
created from any thread and from inside a ``multiprocessing``/``ProcessPoolExecutor``
worker, daemonic or not. A forked child process never uses its parent's workers: it
gets a fresh pool on first use.

Items are sent in batches; the worker answers item by item, and each item has its own
deadline measured from the previous answer, so a batch costs one round trip while a
stuck item is still caught after ``timeout`` seconds. The rest of its batch is resent
to another worker.
"""
from __future__ import annotations

import atexit
import json
import math
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Sequence

STARTUP_TIMEOUT_S = 120.0
# A worker costs about 1 s of CPU to start (imports, grammar) and parsing one distinct
# answer string 4-10 ms (latex2sympy2's ANTLR parser, most of math-verify's time, with the
# two-stage parse and a warm parser cache; about 20 ms without them); a second worker only
# buys wall time with more CPU, so one is started per this many distinct strings to
# parse, not one per core.
STRINGS_PER_WORKER = 200
# How long closing the pool waits for idle workers to save their parser cache and exit
# (writing a large one takes about a second).
CLOSE_GRACE_S = 5.0
FINISH = "finish"  # the message (a JSON string) that asks a worker to save its parser cache and exit
_PKG_ROOT = str(Path(__file__).resolve().parents[2])

Pair = tuple[str, str]
Result = tuple[str, str]


class WorkerError(RuntimeError):
    """A worker failed to start, died, or broke the protocol."""


class _Worker:
    def __init__(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = _PKG_ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        debug = bool(os.environ.get("NMFRAME_GRADER_DEBUG"))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nmframe.answers.grading_process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None if debug else subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
            env=env,
        )
        self._fd = self.proc.stdout.fileno()
        self._poll = select.poll()
        self._poll.register(self._fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        self._buf = b""
        self.ready = False

    def readline(self, deadline: float) -> bytes | None:
        """One line from the worker, None if ``deadline`` passes first."""
        while b"\n" not in self._buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if not self._poll.poll(max(1, math.ceil(remaining * 1000))):
                continue
            chunk = os.read(self._fd, 1 << 16)
            if not chunk:
                raise WorkerError(f"worker exited (code {self.proc.poll()})")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line

    def ensure_ready(self) -> None:
        if self.ready:
            return
        line = self.readline(time.monotonic() + STARTUP_TIMEOUT_S)
        if line is None:
            raise WorkerError("worker did not start in time")
        if line.strip() != b"READY":
            raise WorkerError(f"unexpected worker greeting {line[:80]!r}")
        self.ready = True

    def send(self, pairs: Sequence[Pair]) -> None:
        try:
            self.proc.stdin.write(json.dumps([list(p) for p in pairs]).encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise WorkerError(f"worker input closed: {e}") from e

    def ask_to_finish(self) -> None:
        """Ask the worker to finish: it saves its parser cache and exits (see
        :mod:`.grading_process`). Said in a message, not by closing its input: a process
        forked from this one may hold the pipe open, and the end of input never comes."""
        try:
            self.proc.stdin.write(json.dumps(FINISH).encode() + b"\n")
            self.proc.stdin.flush()
            self.proc.stdin.close()
        except (BrokenPipeError, OSError, ValueError):
            pass

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, OSError):
            pass
        try:
            self.proc.kill()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass


class WorkerPool:
    """Up to ``max_workers`` worker processes shared by all threads of this process."""

    def __init__(self, max_workers: int | None = None) -> None:
        self.max_workers = max(1, max_workers or os.cpu_count() or 1)
        self._idle: list[_Worker] = []
        self._live = 0
        self._cv = threading.Condition()
        self._pid = os.getpid()
        self._closed = False
        self.spawned = 0
        self.killed = 0

    # -- worker lifecycle -------------------------------------------------
    def _spawn(self) -> _Worker:
        w = _Worker()
        self.spawned += 1
        return w

    def ensure_capacity(self, n: int) -> None:
        with self._cv:
            if n > self.max_workers:
                self.max_workers = n
                self._cv.notify_all()

    def prewarm(self, n: int) -> None:
        """Start workers (up to ``n`` live) so their imports overlap other work."""
        while True:
            with self._cv:
                if self._closed or self._live >= min(n, self.max_workers):
                    return
                self._live += 1
            try:
                w = self._spawn()
            except Exception:
                with self._cv:
                    self._live -= 1
                raise
            with self._cv:
                self._idle.append(w)
                self._cv.notify()

    def _acquire(self) -> _Worker:
        dead: list[_Worker] = []
        try:
            with self._cv:
                while True:
                    if self._closed:
                        raise WorkerError("worker pool is closed")
                    while self._idle:
                        w = self._idle.pop()
                        if w.proc.poll() is None:
                            return w
                        dead.append(w)  # died while idle (killed from outside, OOM): replace
                        self._live -= 1
                    if self._live < self.max_workers:
                        self._live += 1
                        break
                    self._cv.wait()
        finally:
            for w in dead:
                w.kill()
        try:
            return self._spawn()
        except Exception:
            with self._cv:
                self._live -= 1
                self._cv.notify()
            raise

    def _release(self, w: _Worker, healthy: bool) -> None:
        if not healthy:
            w.kill()
            self.killed += 1
            replacement = None
            if not self._closed:
                try:
                    replacement = self._spawn()
                except Exception:  # noqa: BLE001 - next acquire will try again
                    replacement = None
            with self._cv:
                if replacement is not None:
                    self._idle.append(replacement)
                else:
                    self._live -= 1
                self._cv.notify()
            return
        with self._cv:
            if self._closed:
                self._live -= 1
                closed = True
            else:
                self._idle.append(w)
                closed = False
            self._cv.notify()
        if closed:
            w.kill()

    # -- grading ------------------------------------------------------------
    def run(self, pairs: Sequence[Pair], timeout: float) -> list[Result]:
        """Judge ``pairs`` in order; an item over ``timeout`` s is ("ungraded", "timeout")."""
        results: list[Result] = []
        pairs = list(pairs)
        while len(results) < len(pairs):
            w = self._acquire()
            healthy = True
            try:
                try:
                    w.ensure_ready()
                except WorkerError as e:
                    healthy = False
                    results.extend([("ungraded", f"error: worker: {e}")] * (len(pairs) - len(results)))
                    break
                batch = pairs[len(results):]
                w.send(batch)
                for _ in batch:
                    line = w.readline(time.monotonic() + timeout)
                    if line is None:
                        results.append(("ungraded", "timeout"))
                        healthy = False
                        break
                    outcome, reason = json.loads(line)
                    results.append((outcome, reason))
            except WorkerError as e:
                healthy = False
                results.append(("ungraded", f"error: worker: {e}"))
            except (ValueError, TypeError) as e:  # garbled line
                healthy = False
                results.append(("ungraded", f"error: worker protocol: {e}"))
            finally:
                self._release(w, healthy)
        return results

    def run_many(
        self,
        pairs: Sequence[Pair],
        timeout: float,
        workers: int | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> list[Result]:
        """Judge many pairs over up to ``workers`` processes in parallel, keeping order.

        Pairs with the same gold go to the same worker, in one batch where possible, so
        each worker parses a gold once (parses are memoised per process); one worker is
        started per :data:`STRINGS_PER_WORKER` distinct strings to parse, not one per core.
        """
        n = len(pairs)
        if n == 0:
            return []
        workers = max(1, min(workers or os.cpu_count() or 1, _workers_needed(pairs)))
        self.ensure_capacity(workers)
        self.prewarm(workers)
        chunks = _gold_chunks(pairs, max(1, min(64, math.ceil(n / (workers * 4)))))
        todo: queue.SimpleQueue = queue.SimpleQueue()
        for part in chunks:
            todo.put(part)
        results: list[Result | None] = [None] * n
        errors: list[BaseException] = []

        def runner() -> None:
            try:
                while True:
                    try:
                        part = todo.get_nowait()
                    except queue.Empty:
                        return
                    for i, res in zip(part, self.run([pairs[i] for i in part], timeout)):
                        results[i] = res
                    if on_progress is not None:
                        on_progress(len(part))
            except BaseException as e:  # noqa: BLE001 - re-raised in the caller
                errors.append(e)

        threads = [threading.Thread(target=runner, daemon=True) for _ in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        return results  # type: ignore[return-value]

    def close(self, grace: float = CLOSE_GRACE_S) -> None:
        """Stop the idle workers: each is asked to finish (it saves its parser cache) and
        killed if it has not exited within ``grace`` seconds (all together)."""
        if os.getpid() != self._pid:
            return  # inherited through fork: these workers belong to the parent
        with self._cv:
            self._closed = True
            idle, self._idle = self._idle, []
            self._live -= len(idle)
            self._cv.notify_all()
        for w in idle:
            w.ask_to_finish()
        deadline = time.monotonic() + grace
        for w in idle:
            try:
                w.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            w.kill()


def _workers_needed(pairs: Sequence[Pair]) -> int:
    strings = {g for g, _ in pairs} | {p for _, p in pairs}
    return math.ceil(len(strings) / STRINGS_PER_WORKER)


def _gold_chunks(pairs: Sequence[Pair], size: int) -> list[list[int]]:
    """Indices of ``pairs`` in batches of about ``size``; all pairs of one gold share a
    batch unless that gold alone has more than ``size`` pairs."""
    by_gold: dict[str, list[int]] = {}
    for i, (gold, _) in enumerate(pairs):
        by_gold.setdefault(gold, []).append(i)
    chunks: list[list[int]] = []
    part: list[int] = []
    for group in by_gold.values():
        for start in range(0, len(group), size):
            piece = group[start: start + size]
            if part and len(part) + len(piece) > size:
                chunks.append(part)
                part = []
            part.extend(piece)
    if part:
        chunks.append(part)
    return chunks


_POOL: WorkerPool | None = None
_POOL_LOCK = threading.Lock()


def get_pool() -> WorkerPool:
    """The process-wide pool (a new one in a forked child)."""
    global _POOL
    pool = _POOL
    if pool is not None and pool._pid == os.getpid() and not pool._closed:
        return pool
    with _POOL_LOCK:
        if _POOL is None or _POOL._pid != os.getpid() or _POOL._closed:
            _POOL = WorkerPool()
        return _POOL


def shutdown_pool() -> None:
    """Kill this process's idle workers (busy ones stop when their item ends)."""
    global _POOL
    with _POOL_LOCK:
        pool, _POOL = _POOL, None
    if pool is not None:
        pool.close()


def _after_fork_in_child() -> None:
    global _POOL, _POOL_LOCK
    _POOL = None
    _POOL_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(shutdown_pool)
