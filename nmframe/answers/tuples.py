"""Exact comparison of tuples, intervals and sets whose entries are plain numbers.

``(3,7)`` against ``(7,3)`` or ``[1,5)`` against ``[1,5]`` needs no symbolic engine, and
reading them with one takes tens of milliseconds. Entries must be integers or integer
fractions (no decimals: math-verify rounds those, so exact comparison could disagree).

The shapes follow math-verify's reading: ``(a,b)`` with ``a < b`` is an open interval,
otherwise a tuple; ``[a,b]``, ``[a,b)``, ``(a,b]`` are intervals (only ``a < b`` is
accepted, since ``[2,1]`` is the empty set); ``\\{..\\}`` is a set. Decided here:

* set vs set: equal iff the same elements;
* tuple vs tuple (``(..)`` against ``(..)``): equal iff the same entries in order;
* interval vs interval: equal iff same endpoints and same openness;
* an interval vs a tuple of another length, or a closed/half-open interval vs a tuple:
  wrong;
* a tuple, interval or set of two or more elements vs a plain number (also one in
  parentheses, ``(8)``, which math-verify reads as 8): wrong;
* a set against a tuple or an open interval, as math-verify compares them: a gold set
  is compared in sorted order, so ``\\{1,2\\}`` equals ``(2,1)``; against a gold tuple
  (or open interval) the predicted set is read in its written order, so ``(1,2)`` equals
  ``\\{1,2\\}`` but not ``\\{2,1\\}``. A set or tuple written with a repeated entry is
  left to math-verify (sets drop repeats, which changes the lengths compared).

Anything else (infinities, expressions as entries) returns None and goes to math-verify.
"""
from __future__ import annotations

import re
from fractions import Fraction

from .numbers import parse_number

_SET = re.compile(r"\\\{(.*)\\\}")
_BRACKETED = re.compile(r"([(\[])(.*)([)\]])")


def _entries(body: str) -> list[Fraction] | None:
    parts = body.split(",")
    out = []
    for p in parts:
        if not p or "." in p or "e" in p or "E" in p or "(" in p or ")" in p:
            return None
        v = parse_number(p)
        if v is None:
            return None
        out.append(v)
    return out


_PAREN_NUMBER = re.compile(r"\((.*)\)")


def _plain_number(s: str):
    """The value of a plain number, also one written in parentheses, else None."""
    m = _PAREN_NUMBER.fullmatch(s)
    return parse_number(m.group(1) if m else s)


def _written(s: str) -> list[Fraction] | None:
    """The entries of a set or tuple in written order (an interval's two ends), or None
    when one repeats."""
    m = _SET.fullmatch(s)
    body = m.group(1) if m else s[1:-1]
    vals = _entries(body)
    if vals is None or len(set(vals)) != len(vals):
        return None
    return vals


def shape(s: str):
    """("set", frozenset) | ("tuple", tuple) | ("interval", (lo, hi, left_open, right_open)) | None."""
    m = _SET.fullmatch(s)
    if m:
        vals = _entries(m.group(1))
        return None if vals is None else ("set", frozenset(vals))
    m = _BRACKETED.fullmatch(s)
    if not m:
        return None
    left, body, right = m.groups()
    if any(c in body for c in "()[]") or "\\{" in body:
        return None
    vals = _entries(body)
    if vals is None or len(vals) < 2:
        return None
    if left == "(" and right == ")":
        if len(vals) == 2 and vals[0] < vals[1]:
            return ("interval", (vals[0], vals[1], True, True))
        return ("tuple", tuple(vals))
    if len(vals) != 2 or not vals[0] < vals[1]:
        return None
    return ("interval", (vals[0], vals[1], left == "(", right == ")"))


def compare(gold: str, pred: str) -> bool | None:
    """True/False when both are such shapes and the rules above decide, else None."""
    g = shape(gold)
    p = shape(pred)
    if g is None or p is None:
        if g is p:
            return None
        kind, val = g or p
        size = 2 if kind == "interval" else len(val)
        # a collection of two or more against one number: never equal to math-verify
        # (a one-element set against its element is equal, so it is left alone)
        if size >= 2 and _plain_number(pred if g is not None else gold) is not None:
            return False
        return None
    (gk, gv), (pk, pv) = g, p
    if gk == pk:
        return gv == pv
    if "set" in (gk, pk):
        return _set_against_sequence(gold, g, pred, p)
    # interval vs tuple: equal only as an open interval against a pair with the same
    # entries, and such a pair would itself be an interval (a < b)
    return False


def _set_against_sequence(gold: str, g, pred: str, p) -> bool | None:
    """A set against a tuple or an open interval, in math-verify's order rules."""
    seq_kind = p[0] if g[0] == "set" else g[0]
    if seq_kind == "interval":
        lo, hi, left_open, right_open = (p if g[0] == "set" else g)[1]
        if not (left_open and right_open):
            return None  # math-verify compares only open intervals with sets
    gw, pw = _written(gold), _written(pred)
    if gw is None or pw is None:
        return None
    if len(gw) != len(pw):
        return False
    if g[0] == "set":
        return sorted(gw) == sorted(pw)
    return gw == pw
