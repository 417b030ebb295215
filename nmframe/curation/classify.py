"""Problem classification: the two methods of step ``classify``.

* ``heuristic``: the rules of :mod:`.rules` decide every problem (cheap, no LLM);
* ``rules_llm``: confident rules first, the LLM for the rest (the recipe classifies with an LLM,
  one prompt per category; arXiv:2512.15489). Confident rules:
  invalid by "too short", "only a link" or "refers to an attachment"; multiple choice by lettered
  options (A)..(E); a proof rule ("prove", "show that") with no request for a value ("find",
  "compute", "how many", ...): proof; no heuristic at all and a request for a value: ok.
  Every other problem is asked, one prompt per category (``classify_<category>``, in the order
  invalid, multiple choice, proof, yes/no), batched per category. The first "yes" decides; "no"
  to all is "ok"; an unreadable reply with no "yes" elsewhere is "no decision" (the step holds or
  keeps the row, ``prep.on_no_decision``).

Both return one :class:`~.decision.Decision` per problem whose value is the category ("ok" or one
of :data:`~.rules.CATEGORIES`).
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from . import prompts
from .decision import LLM, RULE, Decision, count, no_decision, rules_first
from .llm import CurationLLM
from .parse import Unreadable, parse_yes_no
from .rules import CATEGORIES, INVALID, MULTIPLE_CHOICE, OK, PROOF, classify_heuristic, heuristic_category

HEURISTIC, RULES_LLM = "heuristic", "rules_llm"
METHODS = (HEURISTIC, RULES_LLM)

_ASKS_VALUE = re.compile(r"\b(?:find|compute|calculate|evaluate|determine (?:the|all|a|an)|what is|what are|what's|"
                         r"how many|how much|solve|simplify|express|for which|which (?:value|number|integer)s?)\b",
                         re.IGNORECASE)
_CONFIDENT = {INVALID: ("too short", "only a link", "refers to an attachment"),
              MULTIPLE_CHOICE: ("options (A)..(E)", "options \\textbf{(A)}")}


def classify_rule(text: str, categories: Sequence[str] = CATEGORIES) -> Decision | None:
    """The decision of a confident rule, or None (the LLM is asked)."""
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


def decide_heuristic(texts: list[str], categories: Sequence[str] = CATEGORIES) -> list[Decision]:
    return [classify_heuristic(t, categories) for t in texts]


def decide_categories(texts: list[str], llm: CurationLLM | None, categories: Sequence[str] = CATEGORIES,
                      replies: dict | None = None) -> list[Decision]:
    """The ``rules_llm`` method: confident rules, then one batched prompt per category for the rest."""
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
