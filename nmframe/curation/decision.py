"""A curation decision and where it came from.

Every row an LLM-backed curation step touches carries ``prep[<stage>] = {"decided_by": "rule" | "llm" |
"none", "reason": ..., ...}``. ``none`` is "no decision": the LLM's reply could not be read (or
the LLM was not asked because ``prep.backend=none``). It is counted and logged, and never read as
a label.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .parse import Unreadable

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


def count(replies: dict | None, key: str, n: int = 1) -> None:
    """Tally LLM reply outcomes (ok, error, unreadable, ...) for a step's report."""
    if replies is not None:
        replies[key] = replies.get(key, 0) + n


def rules_first(items: Sequence, rule: Callable[[Any], Decision | None], llm,
                replies: dict | None = None) -> tuple[list[Decision | None], list[int]]:
    """Decisions of the cheap rules, and the indices left for the LLM. Without an LLM
    (``prep.backend=none``) those are no decision, counted, and nothing is left."""
    out: list[Decision | None] = [rule(x) for x in items]
    todo = [i for i, d in enumerate(out) if d is None]
    if todo and llm is None:
        for i in todo:
            out[i] = no_decision("needs the LLM, and prep.backend=none")
        count(replies, "not asked (backend none)", len(todo))
        todo = []
    return out, todo


def decide(items: Sequence, rule: Callable[[Any], Decision | None], prompt: Callable[[Any], str],
           parse: Callable[[str], Any], describe: Callable[[Any], str], llm, replies: dict | None = None) -> list[Decision]:
    """Cheap rules first; only the items no rule decides go to ``llm``, in one batch.

    A failed call or a reply ``parse`` cannot read (it raises ``Unreadable``) is no decision,
    counted in ``replies``; a read reply becomes ``Decision(LLM, describe(value), value)``."""
    out, todo = rules_first(items, rule, llm, replies)
    if todo:
        for i, rep in zip(todo, llm.ask([prompt(items[i]) for i in todo])):
            if rep.text is None:
                out[i] = no_decision(rep.error or "no reply")
                count(replies, "error")
                continue
            try:
                value = parse(rep.text)
            except Unreadable as exc:
                out[i] = no_decision(f"unreadable reply ({exc})", reply=rep.text[:300])
                count(replies, "unreadable")
                continue
            count(replies, "ok")
            out[i] = Decision(LLM, describe(value), value)
    return out  # type: ignore[return-value]
