"""Heuristic rules for proof, multiple-choice, yes/no and invalid problems.

Such problems have no answer a grader can check (proofs, invalid texts) or an answer that can
be guessed (multiple choice, yes/no), so the recipe drops them before generation (arXiv:2512.15489,
problem preparation). Ordered regular-expression rules (:data:`RULES`); the first rule
that matches decides, and its name and the matched text are the reason. Order: invalid,
multiple choice, proof, yes/no. They are the whole ``heuristic`` method of step ``classify``
and the cheap first pass of its ``rules_llm`` method (:mod:`.classify`).
"""
from __future__ import annotations

import re
from typing import Callable, Sequence

from .decision import RULE, Decision

OK = "ok"
PROOF, MULTIPLE_CHOICE, YES_NO, INVALID = "proof", "multiple_choice", "yes_no", "invalid"
CATEGORIES = (INVALID, MULTIPLE_CHOICE, PROOF, YES_NO)
MIN_CHARS = 8    # fewer alphanumeric characters than this: not a problem
MIN_WORDS = 2


def _regex(name: str, pattern: str, flags: int = re.IGNORECASE) -> tuple[str, Callable[[str], str | None]]:
    rx = re.compile(pattern, flags)

    def rule(text: str) -> str | None:
        m = rx.search(text)
        return m.group(0).strip() if m else None

    return name, rule


def _distinct_options(pattern: str, minimum: int = 3) -> Callable[[str], str | None]:
    rx = re.compile(pattern)

    def rule(text: str) -> str | None:
        letters = sorted({m.group(1) for m in rx.finditer(text)})
        return "options " + ",".join(letters) if len(letters) >= minimum else None

    return rule


def _too_short(text: str) -> str | None:
    alnum = sum(ch.isalnum() for ch in text)
    words = len(re.findall(r"[A-Za-z0-9]+", text))
    if alnum < MIN_CHARS or words < MIN_WORDS:
        return f"{alnum} alphanumeric characters, {words} words"
    return None


RULES: dict[str, list[tuple[str, Callable[[str], str | None]]]] = {
    INVALID: [
        ("too short", _too_short),
        _regex("only a link", r"^\s*(?:\[url[^\]]*\].*?\[/url\]|https?://\S+)\s*$", re.IGNORECASE | re.DOTALL),
        _regex("refers to an attachment", r"\b(?:see|in) (?:the )?attach(?:ed|ment)\b|\[attachment[^\]]*\]"),
    ],
    MULTIPLE_CHOICE: [
        ("options (A)..(E)", _distinct_options(r"(?<![\w\\])\(\s*([A-E])\s*\)")),
        ("options \\textbf{(A)}", _distinct_options(r"\\text(?:bf|rm)\s*\{\s*\(?\s*([A-E])\s*\)?")),
        ("options A. B. C. on lines", _distinct_options(r"(?m)^\s*([A-E])[.):]\s+\S")),
        _regex("which of the following", r"\bwhich (?:one )?of the following\b"),
        _regex("answer choices", r"\b(?:answer )?choices?\s*:|\bchoose (?:the )?(?:correct|right) (?:answer|option)\b"),
    ],
    PROOF: [
        _regex("prove", r"\b(?:prove|proving|disprove)\b"),
        _regex("show that", r"\bshow\s+(?:that|why)\b"),
        _regex("demonstrate that", r"\bdemonstrate\s+that\b"),
    ],
    YES_NO: [
        _regex("is it true", r"\bis\s+it\s+(?:true|possible|always|the case)\b"),
        _regex("yes or no", r"\byes\s+or\s+no\b|\btrue\s+or\s+false\b"),
        _regex("does there exist", r"\b(?:does|do)\s+there\s+exists?\b"),
        _regex("is there", r"(?:^|[.?!:$]\s*)(?:is|are)\s+there\b"),
        _regex("determine whether", r"\b(?:determine|decide|check)\s+(?:whether|if)\b"),
    ],
}


_ASY = re.compile(r"\[asy\].*?\[/asy\]", re.IGNORECASE | re.DOTALL)


def heuristic_category(text: str, category: str) -> str | None:
    """The reason a category's rules match ``text`` ("<rule>: <matched text>"), or None.
    Asymptote drawing code (``[asy]...[/asy]``, where ``dot(A)`` abounds) is ignored."""
    text = _ASY.sub(" ", text)
    for name, rule in RULES[category]:
        hit = rule(text)
        if hit is not None:
            return f"{name}: {hit[:60]}"
    return None


def classify_heuristic(text: str, categories: Sequence[str] = CATEGORIES) -> Decision:
    """The first matching category of ``categories`` (in :data:`CATEGORIES` order), by rule; else "ok"."""
    for cat in CATEGORIES:
        if cat not in categories:
            continue
        reason = heuristic_category(text, cat)
        if reason is not None:
            return Decision(RULE, reason, cat)
    return Decision(RULE, "no rule matched", OK)
