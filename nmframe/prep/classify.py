"""Proof / multiple-choice / yes-no / invalid problems: confident rules first, the LLM for the rest.

The rules are the filters' heuristics (:mod:`nmframe.filters.classify`), used only where they
are confident:
* invalid by "too short", "only a link" or "refers to an attachment"; multiple choice by
  lettered options (A)..(E): the rule decides;
* a proof rule ("prove", "show that") with no request for a value ("find", "compute", "how
  many", ...): proof, by rule;
* no heuristic at all and a request for a value: ok, by rule.
Every other problem is asked, one prompt per category (the filters' ``classify_<category>``
prompts, in the filters' order: invalid, multiple choice, proof, yes/no), batched per category.
The first "yes" decides; "no" to all is "ok"; an unreadable reply with no "yes" elsewhere is
"no decision" (the step holds or keeps the row, ``prep.on_no_decision``).
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from nmframe.filters.classify import (
    CATEGORIES,
    INVALID,
    MULTIPLE_CHOICE,
    OK,
    PROOF,
    heuristic_category,
)

from . import prompts
from .decision import LLM, RULE, Decision, count, no_decision, rules_first
from .llm import PrepLLM
from .parse import Unreadable, parse_yes_no

_ASKS_VALUE = re.compile(r"\b(?:find|compute|calculate|evaluate|determine (?:the|all|a|an)|what is|what are|what's|"
                         r"how many|how much|solve|simplify|express|for which|which (?:value|number|integer)s?)\b",
                         re.IGNORECASE)
_CONFIDENT = {INVALID: ("too short", "only a link", "refers to an attachment"),
              MULTIPLE_CHOICE: ("options (A)..(E)", "options \\textbf{(A)}")}


def classify_rule(text: str, categories: Sequence[str] = CATEGORIES) -> Decision | None:
    hits = {c: heuristic_category(text, c) for c in CATEGORIES if c in categories}
    for cat, names in _CONFIDENT.items():
        hit = hits.get(cat)
        if hit is not None and hit.split(":")[0] in names:
            return Decision(RULE, hit, cat)
    asks = _ASKS_VALUE.search(text)
    if hits.get(PROOF) is not None and not asks and all(hits.get(c) is None for c in categories if c != PROOF):
        return Decision(RULE, f"{hits[PROOF]} (asks for no value)", PROOF)
    if asks and all(h is None for h in hits.values()):
        return Decision(RULE, f"asks for a value ({asks.group(0)!r}), no category rule matches", OK)
    return None


def decide_categories(texts: list[str], llm: PrepLLM | None, categories: Sequence[str] = CATEGORIES,
                      replies: dict | None = None) -> list[Decision]:
    out, todo = rules_first(texts, lambda t: classify_rule(t, categories), llm, replies)
    unread: dict[int, list[str]] = {i: [] for i in todo}
    for cat in CATEGORIES:
        if cat not in categories or not todo:
            continue
        got = llm.ask([prompts.render(f"classify_{cat}", problem=texts[i]) for i in todo])
        still = []
        for i, rep in zip(todo, got):
            try:
                if rep.text is None:
                    raise Unreadable(rep.error or "no reply")
                yes = parse_yes_no(rep.text)
            except Unreadable as exc:
                count(replies, f"{cat}: unreadable", 1)
                unread[i].append(f"{cat}: {exc}")
                still.append(i)
                continue
            count(replies, f"{cat}: {'yes' if yes else 'no'}", 1)
            if yes:
                out[i] = Decision(LLM, f"llm: {cat}", cat)
            else:
                still.append(i)
        todo = still
    for i in todo:
        out[i] = (no_decision("unreadable reply for " + "; ".join(unread[i])) if unread[i]
                  else Decision(LLM, "llm: no category", OK))
    return out  # type: ignore[return-value]
