"""Problem classification: proof, multiple choice, yes/no and invalid problems are removed.

Such problems have no answer a grader can check (proofs, invalid texts) or an answer that can
be guessed (multiple choice, yes/no), so the recipe drops them before generation.

Two paths:

* heuristic (cheap, default): ordered regular-expression rules (:data:`RULES`); the first
  rule that matches decides, and its name and the matched text are the reason.
  Order: invalid, multiple choice, proof, yes/no.
* LLM: one yes/no prompt per category (``prompts/classify_<category>.txt``) through a
  ``backend(prompt) -> reply`` callable (:mod:`.llm`). Categories are asked in the same
  order; the first "yes" decides. A reply without a judgement (or a failing call) falls back
  to that category's heuristic rules, and is counted.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

from .llm import Backend, ask, render

OK = "ok"
PROOF, MULTIPLE_CHOICE, YES_NO, INVALID = "proof", "multiple_choice", "yes_no", "invalid"
CATEGORIES = (INVALID, MULTIPLE_CHOICE, PROOF, YES_NO)
MIN_CHARS = 8    # fewer alphanumeric characters than this: not a problem
MIN_WORDS = 2


@dataclass(frozen=True)
class Classification:
    category: str          # "ok" or one of CATEGORIES
    reason: str            # rule name and matched text, or "llm", ...
    method: str            # "heuristic", "llm", "llm+heuristic fallback"


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


def classify_heuristic(text: str, categories: Sequence[str] = CATEGORIES) -> Classification:
    for cat in CATEGORIES:
        if cat not in categories:
            continue
        reason = heuristic_category(text, cat)
        if reason is not None:
            return Classification(cat, reason, "heuristic")
    return Classification(OK, "no rule matched", "heuristic")


def classify_llm(text: str, backend: Backend, categories: Sequence[str] = CATEGORIES,
                 stats: dict | None = None) -> Classification:
    """Ask one prompt per category; "no judgement" falls back to the heuristic rules of that
    category. ``stats`` (if given) counts the reply statuses per category."""
    fallback = False
    for cat in CATEGORIES:
        if cat not in categories:
            continue
        verdict, status = ask(backend, render(f"classify_{cat}", problem=text))
        if stats is not None:
            key = f"{cat}: {status}"
            stats[key] = stats.get(key, 0) + 1
        if verdict is True:
            return Classification(cat, "llm", "llm")
        if verdict is None:
            fallback = True
            reason = heuristic_category(text, cat)
            if reason is not None:
                return Classification(cat, f"{reason} (llm gave no judgement)", "llm+heuristic fallback")
    return Classification(OK, "llm: no category", "llm+heuristic fallback" if fallback else "llm")
