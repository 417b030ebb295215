"""Cheap decisions for answers of the form ``v = expression`` (one bare variable).

Line and function answers (``y=4x+5``) send every comparison through sympy's equation
solver, the slowest path in math-verify (hundreds of milliseconds). The common cases
are decided here with the same outcome math-verify (plus the guards of
:mod:`.mv_judge`) would reach:

* gold ``v = c`` with a constant right side, prediction not an equation: compare ``c``
  with the prediction (math-verify keeps only the gold's right side);
* gold ``v = f`` where ``f`` contains a variable, prediction not an equation: wrong
  (the gold is the equation of a curve, the prediction an expression; the guard
  "gold equation vs bare expression");
* both ``v = f`` and ``v = g`` with the same variable not occurring in ``f`` or ``g``:
  equal iff ``f`` and ``g`` are equal expressions (two graphs ``v = f`` and ``v = g``
  are the same curve only then).

Anything else (different left-hand variables, which may still describe the same
curve, inequalities, chains) is left to math-verify.
"""
from __future__ import annotations

import re

_ASSIGN = re.compile(r"([A-Za-z])=([^=<>]+)")
_RELATION = re.compile(r"=|<|>|\\[lg]eq?(?![a-zA-Z])|\\[lg]t(?![a-zA-Z])|\\neq?(?![a-zA-Z])")


def split_assignment(s: str) -> tuple[str, str] | None:
    """``("y", "4x+5")`` for a normalised ``y=4x+5``; None for anything else."""
    m = _ASSIGN.fullmatch(s)
    if not m:
        return None
    return m.group(1), m.group(2)


def is_relation(s: str) -> bool:
    return bool(_RELATION.search(s))


def mentions(var: str, s: str) -> bool:
    """Whether the single-letter variable ``var`` occurs in ``s`` outside commands."""
    return re.search(rf"(?<![\\A-Za-z]){var}(?![A-Za-z])", s) is not None
