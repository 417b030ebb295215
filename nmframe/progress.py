"""Progress for long loops: a rich bar on a terminal, periodic log lines in a log file.

Tasks usually run with stdout redirected to a log (local subprocesses, Slurm), where a live bar
would write thousands of carriage returns; there we log a line every `every_s` seconds instead.
"""
from __future__ import annotations

import logging
import sys
import time
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")
log = logging.getLogger("nmframe.progress")


def track(items: Iterable[T], description: str, total: int | None = None, every_s: float = 10.0) -> Iterator[T]:
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    if sys.stderr.isatty():
        from rich.progress import track as rich_track

        yield from rich_track(items, description=description, total=total, transient=True)
        return
    start = last = time.monotonic()
    n = 0
    for n, item in enumerate(items, start=1):
        yield item
        now = time.monotonic()
        if now - last >= every_s:
            last = now
            rate = n / (now - start)
            of = f"/{total}" if total else ""
            log.info("%s: %d%s (%.0f/s)", description, n, of, rate)
    log.info("%s: %d done in %.1fs", description, n, time.monotonic() - start)
