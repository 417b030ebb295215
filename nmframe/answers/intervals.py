"""An interval against the inequality that states it: ``(2,5]`` and ``2<x\\le 5``.

Solutions of inequalities are written both ways. math-verify equates them only when the
gold is the inequality; with the gold an interval, ``2<x\\le5`` is graded wrong. Both
readings are exact here when the endpoints are integers or integer fractions (or
infinite), the inequality is in one variable and the interval is a single one.

Forms read (after :func:`.normalize.normalize`, which removes spaces):

* intervals ``(a,b)``, ``[a,b]``, ``[a,b)``, ``(a,b]`` with ``a < b``; ``-\\infty`` /
  ``\\infty`` as open ends; an ``x\\in`` prefix;
* inequalities ``x<b``, ``x\\le b``, ``x>a``, ``x\\ge a``, the same with the variable on
  the right (``b>x``), and chains ``a<x<b`` / ``a\\le x<b`` (also written with ``>``).

Ends may be decimals (``(0,12.5)`` and ``0<x<12.5``, huggingface/Math-Verify#10), but
only their exact equality decides: different ends of which one is a decimal are left to
math-verify, which rounds decimals. Anything else (unions, expressions as endpoints, two
variables) is None and goes to math-verify.
"""
from __future__ import annotations

import re
from fractions import Fraction

from .numbers import parse_number

Bounds = tuple  # (lo | None, hi | None, lo_open, hi_open); None is an infinite end

_VAR = r"(?:[A-Za-z]|\\[a-z]+)"
_IN = re.compile(rf"{_VAR}\\in(.+)")
_INTERVAL = re.compile(r"([(\[])([^,()\[\]]+),([^,()\[\]]+)([)\]])")
# the normal form keeps a space between a command and a letter: "1\\le x\\le3"
_REL = r"<|>|\\leq?(?![a-zA-Z])|\\geq?(?![a-zA-Z])|\\leqslant|\\geqslant"
_CHAIN = re.compile(rf"([^<>]+?)\s?({_REL})\s?({_VAR})\s?({_REL})\s?(.+)")
_SINGLE_LEFT = re.compile(rf"({_VAR})\s?({_REL})\s?(.+)")
_SINGLE_RIGHT = re.compile(rf"(.+?)\s?({_REL})\s?({_VAR})")
_INF = frozenset({"\\infty", "+\\infty", "\\infin"})  # an infinite upper end


def _endpoint(s: str, lower: bool) -> tuple[bool, Fraction | None] | None:
    """(ok, value): value None for an infinite end on the right side; None if unreadable."""
    if s in ("-\\infty", "-\\infin"):
        return (True, None) if lower else None
    if s in _INF:
        return None if lower else (True, None)
    if "e" in s.lower().replace("\\frac", ""):
        return None  # scientific notation
    v = parse_number(s)
    return None if v is None else (True, v)


def _interval(s: str) -> Bounds | None:
    m = _IN.fullmatch(s)
    if m:
        s = m.group(1)
    m = _INTERVAL.fullmatch(s)
    if not m:
        return None
    left, a, b, right = m.groups()
    lo, hi = _endpoint(a, True), _endpoint(b, False)
    if lo is None or hi is None:
        return None
    lo_v, hi_v = lo[1], hi[1]
    if (lo_v is None and left == "[") or (hi_v is None and right == "]"):
        return None
    if lo_v is not None and hi_v is not None and not lo_v < hi_v:
        return None
    return (lo_v, hi_v, left == "(", right == ")")


def _is_less(rel: str) -> bool:
    return rel == "<" or rel.startswith("\\le")


def _strict(rel: str) -> bool:
    return rel in ("<", ">")


def _bound(value_s: str, rel: str, var_on_left: bool) -> tuple[str, Fraction, bool] | None:
    """("lo"|"hi", value, open) of ``var rel value`` (or ``value rel var``)."""
    v = _endpoint(value_s, True) if value_s not in _INF else None
    if v is None or v[1] is None:
        return None
    upper = _is_less(rel) == var_on_left  # x < b, or b > x
    return ("hi" if upper else "lo", v[1], _strict(rel))


def _inequality(s: str) -> Bounds | None:
    m = _CHAIN.fullmatch(s)
    if m:
        a, r1, _, r2, b = m.groups()
        if _is_less(r1) != _is_less(r2):
            return None
        first, second = _bound(a, r1, False), _bound(b, r2, True)
        if first is None or second is None or first[0] == second[0]:
            return None
        lo, hi = (first, second) if first[0] == "lo" else (second, first)
        if not lo[1] < hi[1]:
            return None
        return (lo[1], hi[1], lo[2], hi[2])
    for pattern, var_on_left in ((_SINGLE_LEFT, True), (_SINGLE_RIGHT, False)):
        m = pattern.fullmatch(s)
        if not m:
            continue
        groups = m.groups()
        value_s, rel = (groups[2], groups[1]) if var_on_left else (groups[0], groups[1])
        if re.search(_REL, value_s):
            return None
        b = _bound(value_s, rel, var_on_left)
        if b is None:
            return None
        return (b[1], None, b[2], True) if b[0] == "lo" else (None, b[1], True, b[2])
    return None


def compare(gold: str, pred: str) -> bool | None:
    """True/False when one side is an interval and the other an inequality these rules
    read, or both are intervals (equal iff the same ends and the same openness, as
    math-verify compares intervals; ``(6,\\infty)`` equals ``x\\in(6,+\\infty)``), else None."""
    gi, pi = _interval(gold), _interval(pred)
    if gi is None and pi is None:
        return None
    if gi is not None and pi is not None:
        return _decided(gi == pi, gold, pred)
    other = _inequality(pred if gi is not None else gold)
    if other is None:
        return None
    return _decided((gi or pi) == other, gold, pred)


def _decided(same: bool, gold: str, pred: str) -> bool | None:
    """Exact equality decides; a difference with a decimal end is left to math-verify,
    which rounds decimals (``0.3333333`` may equal ``\\frac{1}{3}`` to it)."""
    if not same and ("." in gold or "." in pred):
        return None
    return same
