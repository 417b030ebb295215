"""Output capture inside the worker, bounded while it is written.

Two paths feed a cell's output: Python-level writes (``print``, ``sys.stdout.write``) go to a
``CappedWriter`` that keeps only the first and last ``limit`` characters and counts the rest,
so printing 100 MB costs the worker nothing but the count; writes made at the file-descriptor
level (subprocesses, C extensions) land in an anonymous memory file whose size the
``RLIMIT_FSIZE`` limit bounds, and only its two ends are read back.
"""
from __future__ import annotations

import fcntl
import io
import os
from collections import deque

from .result import compose_capped


def _clean(text: str) -> str:
    # Lone surrogates (print("\ud800")) would break UTF-8 consumers downstream.
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


class CappedWriter(io.TextIOBase):
    """A text stream that remembers the first and last ``limit`` characters written."""

    def __init__(self, limit: int, name: str = "<stdout>") -> None:
        super().__init__()
        self.limit = max(0, int(limit))
        self.name = name
        self.reset()

    def reset(self) -> None:
        self._head: list[str] = []
        self._head_len = 0
        self._tail: deque[str] = deque()
        self._tail_len = 0
        self.total = 0

    # io.TextIOBase API -----------------------------------------------------------------
    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    @property
    def errors(self) -> str:  # type: ignore[override]
        return "strict"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def flush(self) -> None:
        return None

    def write(self, s) -> int:
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        n = len(s)
        if not n:
            return 0
        self.total += n
        limit = self.limit
        if self._head_len < limit:
            take = s[: limit - self._head_len]
            self._head.append(take)
            self._head_len += len(take)
        piece = s[-limit:] if limit else ""
        if piece:
            self._tail.append(piece)
            self._tail_len += len(piece)
            while self._tail and self._tail_len - len(self._tail[0]) >= limit:
                self._tail_len -= len(self._tail.popleft())
        return n

    def skip(self, n: int) -> None:
        """Account for ``n`` characters that were dropped unread (the tail restarts)."""
        if n > 0:
            self.total += n
            self._tail.clear()
            self._tail_len = 0

    def value(self, keep: str = "head") -> str:
        head = "".join(self._head)
        tail = "".join(self._tail)[-self.limit :] if self.limit else ""
        return _clean(compose_capped(head, tail, self.total, self.limit, keep))


class FdCapture:
    """Points a file descriptor (1 or 2) at an anonymous append-only memory file."""

    def __init__(self, target_fd: int, name: str) -> None:
        self.target_fd = target_fd
        fd = os.memfd_create(name, 0)
        os.dup2(fd, target_fd)
        os.close(fd)
        flags = fcntl.fcntl(target_fd, fcntl.F_GETFL)
        fcntl.fcntl(target_fd, fcntl.F_SETFL, flags | os.O_APPEND)

    def drain_into(self, writer: CappedWriter) -> None:
        """Move what was written since the last drain into ``writer``; then empty the file."""
        fd = self.target_fd
        try:
            size = os.fstat(fd).st_size
        except OSError:
            return
        if not size:
            return
        window = max(4096, writer.limit * 4)
        if size <= 2 * window:
            writer.write(os.pread(fd, size, 0).decode("utf-8", "replace"))
        else:
            head = os.pread(fd, window, 0)
            tail = os.pread(fd, window, size - window)
            writer.write(head.decode("utf-8", "replace"))
            writer.skip(size - 2 * window)
            writer.write(tail.decode("utf-8", "replace"))
        os.ftruncate(fd, 0)
