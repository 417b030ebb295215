"""A preparation decision and where it came from.

Every row a preparation step touches carries ``prep[<stage>] = {"decided_by": "rule" | "llm" |
"none", "reason": ..., ...}``. ``none`` is "no decision": the LLM's reply could not be read (or
the LLM was not asked because ``prep.backend=none``). It is counted and logged, and never read as
a label.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RULE, LLM, NONE = "rule", "llm", "none"


@dataclass
class Decision:
    decided_by: str
    reason: str
    value: Any = None                       # the decision's content (problems, answer, category, ...)
    extra: dict = field(default_factory=dict)

    @property
    def decided(self) -> bool:
        return self.decided_by != NONE

    def record(self, **more) -> dict:
        return {"decided_by": self.decided_by, "reason": self.reason, **self.extra, **more}


def no_decision(why: str, **extra) -> Decision:
    return Decision(NONE, f"no decision: {why}", None, extra)
