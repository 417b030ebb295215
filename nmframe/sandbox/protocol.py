"""Length-prefixed JSON frames over pipes, with hard bounds on both sides.

The parent never trusts the worker: a frame larger than ``max_bytes``, a malformed header or
a read past the deadline is an error the caller answers by killing the session, so a hostile
cell that scribbles on the protocol descriptor cannot make the parent allocate without bound
or block forever.
"""
from __future__ import annotations

import errno
import json
import os
import select
import struct
import time

HEADER = struct.Struct(">I")


class ProtocolError(Exception):
    """The peer sent something that is not a valid frame (or too large a one)."""


class PeerClosed(ProtocolError):
    """The pipe reached end of file: the peer exited."""


class Deadline(Exception):
    """No complete frame arrived before the deadline."""


def encode(obj) -> bytes:
    payload = json.dumps(obj, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    return HEADER.pack(len(payload)) + payload


def _wait(fd: int, events: int, deadline: float | None) -> None:
    if deadline is None:
        return
    poller = select.poll()
    poller.register(fd, events)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Deadline()
        try:
            if poller.poll(max(1, int(left * 1000) + 1)):
                return
        except InterruptedError:  # pragma: no cover - PEP 475 retries already
            continue


def write_all(fd: int, data: bytes, deadline: float | None = None) -> None:
    view = memoryview(data)
    while view:
        _wait(fd, select.POLLOUT, deadline)
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            continue
        view = view[n:]


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    chunks = []
    while n:
        _wait(fd, select.POLLIN, deadline)
        try:
            chunk = os.read(fd, min(n, 1 << 20))
        except BlockingIOError:
            continue
        except OSError as exc:
            if exc.errno == errno.EIO:
                raise PeerClosed("read error") from exc
            raise
        if not chunk:
            raise PeerClosed("end of file")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def pending(fd: int) -> bool:
    """Whether the peer has written something (or hung up) that nobody asked for yet."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


def read_frame(fd: int, deadline: float | None = None, max_bytes: int = 1 << 24):
    """Read one frame; ``deadline`` is a ``time.monotonic()`` value or None (block)."""
    header = _read_exact(fd, HEADER.size, deadline)
    (size,) = HEADER.unpack(header)
    if size > max_bytes:
        raise ProtocolError(f"frame of {size} bytes exceeds the {max_bytes}-byte bound")
    payload = _read_exact(fd, size, deadline)
    try:
        obj = json.loads(payload)
    except ValueError as exc:
        raise ProtocolError(f"malformed frame: {exc}") from exc
    if not isinstance(obj, dict):
        raise ProtocolError("frame is not an object")
    return obj
