"""Exact reading of plain numbers, so most comparisons never need a symbolic engine.

Most final answers in competition and forum math are integers, decimals or simple
fractions. Those are decided here exactly with :class:`fractions.Fraction` (``"016"`` is
16, ``"0.5"`` is ``1/2``, ``"1.5e3"`` is 1500), which is both far cheaper than parsing
LaTeX into sympy and free of floating-point tolerance. Anything that is not plainly a
number returns ``None`` and is left to math-verify.

Decimals are exact: ``0.333333`` is not ``1/3`` here (math-verify would call them equal
after rounding to 6 places); a truncated decimal is not the fraction it approximates.
"""
from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache

# Python refuses to convert very long digit strings to int by default; stay well below.
_MAX_DIGITS = 4000
# 10**exponent is computed exactly: refuse exponents that would be slow to build.
_MAX_EXPONENT = 2000

_DEC = r"(?:\d+(?:\.\d*)?|\.\d+)"
_INT_RE = re.compile(r"[+-]?\d+")
_DEC_RE = re.compile(rf"([+-]?{_DEC})")
_SCI_E_RE = re.compile(rf"([+-]?{_DEC})[eE]([+-]?\d+)")
_SCI_TIMES_RE = re.compile(
    rf"([+-]?{_DEC})(?:\\times|\\cdot|\*)10\^(?:\{{([+-]?\d+)\}}|([+-]?\d))"
)
_POW10_RE = re.compile(r"([+-]?)10\^(?:\{([+-]?\d+)\}|([+-]?\d))")
_SLASH_RE = re.compile(r"([+-]?)\(?([+-]?\d+)\)?/\(?(\d+)\)?")
_FRAC_RE = re.compile(r"([+-]?)\\frac\{([+-]?\d+)\}\{([+-]?\d+)\}")
_FRAC_SHORT_RE = re.compile(r"([+-]?)\\frac(\d)(\d)")
_THOUSANDS_RE = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")


def _sign(s: str) -> int:
    return -1 if s == "-" else 1


def _ratio(sign: str, num: str, den: str) -> Fraction | None:
    if len(num) > _MAX_DIGITS or len(den) > _MAX_DIGITS:
        return None
    d = int(den)
    if d == 0:
        return None
    return _sign(sign) * Fraction(int(num), d)


def _pow10(mantissa: str, exponent: str) -> Fraction | None:
    e = int(exponent)
    if abs(e) > _MAX_EXPONENT or len(mantissa) > _MAX_DIGITS:
        return None
    return Fraction(mantissa) * Fraction(10) ** e


@lru_cache(maxsize=1 << 18)
def parse_number(s: str) -> Fraction | None:
    """Exact value of a plain number written in ``s`` (already normalised), else None.

    Accepted: integers (leading zeros allowed), decimals, thousands-separated numbers
    with groups of exactly three digits, ``a/b`` and ``\\frac{a}{b}`` with integer a, b,
    scientific notation ``1.5e3`` / ``1.5\\times10^{3}`` and ``10^{k}``.
    """
    s = s.replace(" ", "")
    if not s or len(s) > _MAX_DIGITS:
        return None
    if _THOUSANDS_RE.fullmatch(s):
        s = s.replace(",", "")
    if _INT_RE.fullmatch(s) or _DEC_RE.fullmatch(s):
        return Fraction(s)
    m = _SCI_E_RE.fullmatch(s)
    if m:
        return _pow10(m.group(1), m.group(2))
    m = _SCI_TIMES_RE.fullmatch(s)
    if m:
        return _pow10(m.group(1), m.group(2) or m.group(3))
    m = _POW10_RE.fullmatch(s)
    if m:
        v = _pow10("1", m.group(2) or m.group(3))
        return None if v is None else _sign(m.group(1)) * v
    for rx in (_FRAC_RE, _FRAC_SHORT_RE, _SLASH_RE):
        m = rx.fullmatch(s)
        if m:
            return _ratio(*m.groups())
    return None
