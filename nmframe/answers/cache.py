"""Process-wide verdict cache and grading counters.

Sixteen samples per problem repeat the same few answers, and evaluation re-grades the
same pairs across runs, so verdicts that needed math-verify are remembered by
``(normalised gold, normalised prediction)``. Timeouts and worker failures are not
remembered: they say nothing about the pair and a later call with more time may
decide it.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict

from .verdict import Verdict


class VerdictCache:
    """A thread-safe LRU map from normalised pairs to verdicts, with counters."""

    def __init__(self, maxsize: int = 1 << 20) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[tuple[str, str], Verdict] = OrderedDict()
        self._lock = threading.Lock()
        self.counters: dict[str, int] = {}
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.counters = {
                "hits": 0,
                "misses": 0,
                "fast_path": 0,
                "math_verify": 0,
                "timeouts": 0,
            }

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counters[name] = self.counters.get(name, 0) + n

    def get(self, key: tuple[str, str]) -> Verdict | None:
        with self._lock:
            v = self._data.get(key)
            if v is None:
                self.counters["misses"] += 1
                return None
            self._data.move_to_end(key)
            self.counters["hits"] += 1
            return v

    def put(self, key: tuple[str, str], verdict: Verdict) -> None:
        if verdict.reason == "timeout" or verdict.reason.startswith("error: worker"):
            return
        with self._lock:
            self._data[key] = verdict
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {**self.counters, "size": len(self._data), "maxsize": self.maxsize}

    def _after_fork(self) -> None:
        self._lock = threading.Lock()


CACHE = VerdictCache()
os.register_at_fork(after_in_child=CACHE._after_fork)
