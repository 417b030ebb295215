"""The result type of grading: three outcomes, never two.

A grader that folds timeouts and internal errors into "wrong" silently biases every
downstream number (pass rates, majority answers, the traces that are kept), so the
outcome of a comparison is one of three values and carries a short reason.
"""
from __future__ import annotations

from dataclasses import dataclass

CORRECT = "correct"
WRONG = "wrong"
UNGRADED = "ungraded"
OUTCOMES = (CORRECT, WRONG, UNGRADED)


@dataclass(frozen=True)
class Verdict:
    """Outcome of comparing one prediction with one gold answer.

    ``outcome`` is ``"correct"``, ``"wrong"`` or ``"ungraded"`` (timeout or internal
    error: the comparison could not be decided). ``reason`` says which path decided it,
    e.g. ``"fast-path"``, ``"fast-path numeric"``, ``"math-verify"``, ``"no answer"``,
    ``"timeout"``, ``"error: <message>"``.
    """

    outcome: str
    reason: str

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, got {self.outcome!r}")

    @property
    def is_correct(self) -> bool:
        return self.outcome == CORRECT

    @property
    def is_graded(self) -> bool:
        return self.outcome != UNGRADED
