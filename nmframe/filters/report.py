"""Counting what a filter did, per data source and per reason.

Every filter decision (kept or removed, and why) goes through a :class:`Tally`, so each
step's report.json says how many items of each data source were removed for each reason.
"""
from __future__ import annotations

import collections
from typing import Any


class Tally:
    def __init__(self) -> None:
        self.kept = collections.Counter()
        self.removed = collections.Counter()
        self.reasons: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)

    def add(self, data_source: str | None, kept: bool, reason: str, n: int = 1) -> None:
        src = data_source or "unknown"
        (self.kept if kept else self.removed)[src] += n
        self.reasons[src][reason] += n

    def to_dict(self) -> dict[str, Any]:
        sources = sorted(set(self.kept) | set(self.removed))
        by_reason = collections.Counter()
        for c in self.reasons.values():
            by_reason.update(c)
        return {
            "total": sum(self.kept.values()) + sum(self.removed.values()),
            "kept": sum(self.kept.values()),
            "removed": sum(self.removed.values()),
            "by_reason": dict(sorted(by_reason.items())),
            "by_data_source": {
                s: {"total": self.kept[s] + self.removed[s], "kept": self.kept[s],
                    "removed": self.removed[s], "by_reason": dict(sorted(self.reasons[s].items()))}
                for s in sources
            },
        }
