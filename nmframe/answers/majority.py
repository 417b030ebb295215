"""Majority voting over sampled answers, with equivalent answers voting together.

Answer validation replaces a missing or unconfirmed forum answer by the majority of 16
sampled answers, and maj@k scores the majority answer; voting on raw strings would
split "1/2", "0.5" and "\\frac{1}{2}" into three minorities.

Equivalence of two answers ``a`` and ``b`` (the default, when ``equivalent`` is None):
their normal forms are equal, or ``grade(a, b)`` and ``grade(b, a)`` are both
"correct" (an "ungraded" comparison counts as not equivalent). A custom
``equivalent(a, b) -> bool`` replaces the second test; equal normal forms always vote
together.

Procedure, deterministic and cheap:

1. ``None`` answers (and answers that are empty once normalised) never vote.
2. Answers are grouped by normal form (no math-verify involved).
3. Groups are taken in order of first appearance; each joins the first existing class
   whose representative is equivalent to the group's first answer, else it starts a new
   class. Comparisons are between class representatives only, so k distinct spellings
   cost at most k*(k-1)/2 comparisons, and plain numbers never reach math-verify.
   (Equivalence need not be transitive; comparing with the representative keeps the
   result independent of how comparisons are scheduled.)
4. A class's representative is its most frequent spelling (the answer string with
   surrounding spaces removed; ties: the spelling that appeared first), so
   ``["016", "16", "16"]`` is represented by ``"16"``.
5. The winner is the class with the most votes; among tied classes, the one whose first
   member appears earliest in the input.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

from .grading import grade
from .normalize import normalize


@dataclass(frozen=True)
class MajorityResult:
    """``answer``: representative of the winning class (None if nobody answered);
    ``count``: its votes; ``classes``: ``(representative, count, member indices)`` for
    every class, in order of first appearance."""

    answer: str | None
    count: int
    classes: list[tuple[str, int, list[int]]] = field(default_factory=list)


def _default_equivalent(timeout: float) -> Callable[[str, str], bool]:
    def equivalent(a: str, b: str) -> bool:
        return grade(a, b, timeout=timeout).is_correct and grade(b, a, timeout=timeout).is_correct

    return equivalent


def majority_vote(
    answers: Sequence[str | None],
    equivalent: Callable[[str, str], bool] | None = None,
    timeout: float = 5.0,
) -> MajorityResult:
    """The majority answer of ``answers`` (see the module docstring for the rules)."""
    eq = equivalent or _default_equivalent(timeout)

    # 2. group by normal form, in order of first appearance
    groups: dict[str, list[int]] = {}
    for i, a in enumerate(answers):
        if a is None:
            continue
        form = normalize(a)
        if not form:
            continue
        groups.setdefault(form, []).append(i)

    # 3. merge groups into classes by comparing with class representatives
    classes: list[list[str]] = []  # each: normal forms, first one is the class's seed
    for form, idx in groups.items():
        first = answers[idx[0]]
        for cls in classes:
            seed = answers[groups[cls[0]][0]]
            if eq(seed, first):  # type: ignore[arg-type]
                cls.append(form)
                break
        else:
            classes.append([form])

    # 4./5. representatives, counts, winner
    result: list[tuple[str, int, list[int]]] = []
    for cls in classes:
        members = sorted(i for form in cls for i in groups[form])
        spellings: dict[str, list[int]] = {}
        for i in members:
            spellings.setdefault(answers[i].strip(), []).append(i)  # type: ignore[union-attr]
        rep = max(spellings, key=lambda s: (len(spellings[s]), -spellings[s][0]))
        result.append((rep, len(members), members))
    if not result:
        return MajorityResult(None, 0, [])
    # classes are already in order of first appearance, so max() keeps the earliest on ties
    win = max(range(len(result)), key=lambda k: (result[k][1], -result[k][2][0]))
    return MajorityResult(result[win][0], result[win][1], result)
