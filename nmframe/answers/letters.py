"""Single-letter answers (multiple choice): ``B``, ``\\text{B}``, ``\\textbf{(B)}``, ``(b)``.

Letter answers are common (multiple-choice problems) and each one sent to math-verify
costs a LaTeX parse. math-verify reads a lone letter as a symbol and compares symbol
names without regard to case, so ``B``, ``b`` and ``\\mathrm{B}`` are all equal and
``B`` differs from ``C``. The exception is ``i``/``I``: ``I`` is read as the imaginary
unit, so ``I`` and ``\\text{I}`` differ to it; pairs with that letter are left to it.

Only one letter, in at most one wrapper and one pair of parentheses (either order), is
read here; anything else returns None.
"""
from __future__ import annotations

import re

_WRAP = r"\\(?:text|textbf|textrm|textit|textnormal|mathrm|mathbf|mathit|mbox)\{"
_LETTER = re.compile(
    rf"(?:{_WRAP})?\(?([A-Za-z])\)?\}}?|\(({_WRAP})?([A-Za-z])\}}?\)"
)


def letter(s: str) -> str | None:
    """The lower-cased letter of a single-letter answer (never ``i``), else None."""
    m = _LETTER.fullmatch(s)
    if not m:
        return None
    if m.group(1) is not None:
        # brackets and braces must pair up: "(B" and "B}" are not answers
        if s.count("(") != s.count(")") or s.count("{") != s.count("}"):
            return None
        ch = m.group(1)
    else:
        if (m.group(2) is None) != (s.count("{") == 0) or s.count("{") != s.count("}"):
            return None
        ch = m.group(3)
    ch = ch.lower()
    return None if ch == "i" else ch


def compare(gold: str, pred: str) -> bool | None:
    """True/False when both are single letters this module reads, else None."""
    g = letter(gold)
    if g is None:
        return None
    p = letter(pred)
    return None if p is None else g == p
