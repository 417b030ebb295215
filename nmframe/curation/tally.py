"""The one count of what a curation step decided, per data source: the report's table.

Every decision (kept, removed or held without a decision, and why) goes through a :class:`Tally`,
so each step's report.json says how many items of each data source went each way for each reason.
Steps whose decisions come from rules or an LLM also record who decided (``decided_by``: rule |
llm | none) and keep a few examples of the undecided rows.
"""
from __future__ import annotations

import collections
from typing import Any

KEPT, REMOVED, UNDECIDED = "kept", "removed", "undecided"


class Tally:
    def __init__(self, examples: int = 20) -> None:
        self.outcomes: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.reasons: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.deciders: collections.Counter = collections.Counter()
        self.examples: list[dict] = []
        self.max_examples = examples

    def add(self, data_source: str | None, reason: str, *, kept: bool | None = True, decided_by: str | None = None,
            n: int = 1, example: dict | None = None) -> None:
        """Count ``n`` items of ``data_source`` with ``reason``: kept (True), removed (False) or held
        undecided (None); ``example`` is kept for the report while fewer than ``examples`` are."""
        src = data_source or "unknown"
        self.outcomes[src][KEPT if kept else REMOVED if kept is False else UNDECIDED] += n
        self.reasons[src][reason] += n
        if decided_by is not None:
            self.deciders[(src, decided_by, reason)] += n
        if example is not None and len(self.examples) < self.max_examples:
            self.examples.append(example)

    def to_dict(self) -> dict[str, Any]:
        totals = collections.Counter()
        for c in self.outcomes.values():
            totals.update(c)
        by_reason = collections.Counter()
        for c in self.reasons.values():
            by_reason.update(c)
        out: dict[str, Any] = {
            "total": sum(totals.values()),
            KEPT: totals[KEPT], REMOVED: totals[REMOVED], UNDECIDED: totals[UNDECIDED],
            "by_reason": dict(sorted(by_reason.items())),
            "by_data_source": {
                s: {"total": sum(self.outcomes[s].values()), KEPT: self.outcomes[s][KEPT],
                    REMOVED: self.outcomes[s][REMOVED], UNDECIDED: self.outcomes[s][UNDECIDED],
                    "by_reason": dict(sorted(self.reasons[s].items()))}
                for s in sorted(self.outcomes)
            },
        }
        if self.deciders:
            by_decider = collections.Counter()
            for (_, by, _), n in self.deciders.items():
                by_decider[by] += n
            out["by_decided_by"] = dict(sorted(by_decider.items()))
            out["counts"] = [{"data_source": s, "decided_by": by, "reason": r, "count": n}
                             for (s, by, r), n in sorted(self.deciders.items())]
            out["undecided_examples"] = self.examples
        return out
