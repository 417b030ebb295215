"""Floating-point values of simple LaTeX arithmetic, to decide most comparisons cheaply.

Parsing LaTeX into sympy costs tens of milliseconds, and most comparisons that get that
far are simple: ``2\\sqrt{3}`` against ``3\\sqrt{2}``, ``\\frac{3\\pi}{4}`` against
``\\frac{\\pi}{4}``, ``x^2+8x+2`` against ``2+8x+x^2``. When both answers are in a
small, unambiguous grammar, their values are computed here at three fixed points (the
variables ``x y z n k`` take different, irrational-looking values, some negative):

* values clearly differ at some point -> the answers differ (wrong);
* values agree to 12 significant digits at every point -> equal (correct), for
  constants, and for expressions in variables only when they are rational functions
  (no root or fractional power of a variable: ``\\sqrt{x^2}`` is ``|x|``);
* otherwise (a decimal close to the exact value, roots of variables) -> math-verify.

Agreeing values are equal answers even where sympy's simplification would fail to
prove it (nested radicals: ``\\sqrt{5+2\\sqrt{6}}`` and ``\\sqrt{2}+\\sqrt{3}``).

Grammar (anything else returns None and math-verify decides): numbers (``12``,
``1.5``), the variables above, ``+ - * / \\cdot \\times``, unary signs,
``\\frac{..}{..}``, ``\\frac12``, ``\\sqrt{..}``, ``\\sqrt2``, ``\\pi``, ``^d`` /
``^{..}`` with a constant exponent (one level, no towers), parentheses and braces.
Implicit multiplication only before ``\\sqrt``, ``\\pi`` and a variable, and never
right after a divisor (math-verify reads ``1/2\\pi`` as ``1/(2\\pi)``). Refused because
math-verify reads them in its own way: a number before ``\\frac`` (mixed number,
``1\\frac{1}{2}`` = 3/2), anything before ``(`` (``6(131)`` is 137, ``x(x+1)`` a function
call), digits right after a command or variable (``\\pi4``, ``\\sqrt12``, ``x2``), a
lone variable (math-verify compares bare symbols by name), and any other letter (units
such as ``m``, ``s``, ``ab`` are stripped by math-verify's normaliser).

"Clearly differ" is ``|a - b| > max(2e-6, 1e-9 * max(|a|, |b|))``: math-verify compares
decimals after rounding to 6 places, and two values more than 1e-6 apart never round to
the same 6-place decimal.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

_TOKEN = re.compile(r"\s*(\d+(?:\.\d+)?|\\frac|\\sqrt|\\pi|\\cdot|\\times|[xyznk]|[-+*/^(){}])")
_MAX_EXP = 1000.0
_VARS = {
    "x": (0.5772156649015329, -1.3247179572447460, 2.2360679774997897),
    "y": (1.6180339887498949, 0.7390851332151607, -0.5671432904097838),
    "z": (-0.8414709848078965, 1.2020569031595942, 0.9159655941772190),
    "n": (2.6854520010653064, -0.2078795763507619, 1.4142135623730951),
    "k": (0.3183098861837907, 1.7320508075688772, -2.0287578381104342),
}
_N = 3
Vec = tuple[float, ...]


class _Refuse(Exception):
    pass


@dataclass(frozen=True)
class Value:
    """Values at the three points; ``variable``: depends on a variable; ``radical``: a
    root or fractional power of a variable occurs (identity by sampling is unsafe)."""

    values: Vec
    variable: bool
    radical: bool


def _const(v: float) -> Vec:
    return (v,) * _N


def _tokens(s: str) -> list[str]:
    out = []
    pos = 0
    s = s.strip()
    while pos < len(s):
        m = _TOKEN.match(s, pos)
        if not m:
            raise _Refuse
        out.append(m.group(1))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, toks: list[str]) -> None:
        self.t = toks
        self.i = 0
        self.variable = False
        self.radical = False

    def peek(self) -> str | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self, want: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (want is not None and tok != want):
            raise _Refuse
        self.i += 1
        return tok

    # each rule returns (values, depends-on-a-variable)
    def expr(self) -> tuple[Vec, bool]:
        v, dep = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()
            r, rdep = self.term()
            v = tuple(a + b for a, b in zip(v, r)) if op == "+" else tuple(a - b for a, b in zip(v, r))
            dep = dep or rdep
        return v, dep

    def term(self) -> tuple[Vec, bool]:
        v, dep = self.unary()
        after_div = False
        while True:
            tok = self.peek()
            if tok in ("*", "\\cdot", "\\times"):
                self.take()
                r, rdep = self.unary()
                after_div = False
            elif tok == "/":
                self.take()
                d, rdep = self.unary()
                if any(abs(x) < 1e-300 for x in d):
                    raise _Refuse
                r = tuple(1.0 / x for x in d)
                after_div = True
            elif tok in ("\\sqrt", "\\pi") or (tok is not None and tok in _VARS):
                if after_div:
                    raise _Refuse  # math-verify reads 1/2\pi as 1/(2\pi)
                r, rdep = self.power()
            else:
                return v, dep
            v = tuple(a * b for a, b in zip(v, r))
            dep = dep or rdep

    def unary(self) -> tuple[Vec, bool]:
        tok = self.peek()
        if tok == "-":
            self.take()
            v, dep = self.unary()
            return tuple(-a for a in v), dep
        if tok == "+":
            self.take()
            return self.unary()
        return self.power()

    def power(self) -> tuple[Vec, bool]:
        base, dep = self.atom()
        if self.peek() != "^":
            return base, dep
        self.take()
        if self.peek() == "{":
            self.take()
            ev, edep = self.expr()
            self.take("}")
        else:
            tok = self.take()
            if not (tok.isdigit() and len(tok) == 1):
                raise _Refuse
            ev, edep = _const(float(tok)), False
        e = ev[0]
        if edep or self.peek() == "^" or abs(e) > _MAX_EXP:
            raise _Refuse
        integral = e == int(e)
        if not integral and dep:
            self.radical = True
        out = []
        for b in base:
            if (b < 0 and not integral) or (b == 0 and e <= 0):
                raise _Refuse
            out.append(b ** e)
        return tuple(out), dep

    def group_or_digit(self) -> tuple[Vec, bool]:
        if self.peek() == "{":
            self.take()
            v = self.expr()
            self.take("}")
            return v
        tok = self.take()
        if not (tok.isdigit() and len(tok) == 1):
            raise _Refuse  # \sqrt12 is sqrt(1)*2 in TeX: too easy to misread, refuse
        return _const(float(tok)), False

    def _no_digit_next(self) -> None:
        nxt = self.peek()
        if nxt is not None and nxt[0].isdigit():
            raise _Refuse

    def atom(self) -> tuple[Vec, bool]:
        tok = self.take()
        if tok[0].isdigit():
            if self.peek() == "\\frac":
                raise _Refuse  # mixed number
            return _const(float(tok)), False
        if tok in _VARS:
            self._no_digit_next()
            self.variable = True
            return _VARS[tok], True
        if tok == "\\pi":
            self._no_digit_next()
            return _const(math.pi), False
        if tok == "\\sqrt":
            v, dep = self.group_or_digit()
            if any(a < 0 for a in v):
                raise _Refuse
            if dep:
                self.radical = True
            return tuple(math.sqrt(a) for a in v), dep
        if tok == "\\frac":
            nxt = self.peek()
            if nxt is not None and len(nxt) == 2 and nxt.isdigit():
                self.take()
                num, nd = _const(float(nxt[0])), False
                den, dd = _const(float(nxt[1])), False
            else:
                num, nd = self.group_or_digit()
                den, dd = self.group_or_digit()
            if any(abs(x) < 1e-300 for x in den):
                raise _Refuse
            return tuple(a / b for a, b in zip(num, den)), nd or dd
        if tok in ("(", "{"):
            v = self.expr()
            self.take(")" if tok == "(" else "}")
            return v
        raise _Refuse


@lru_cache(maxsize=1 << 16)
def evaluate(s: str) -> Value | None:
    """Values of ``s`` at the sample points if it is in the grammar above, else None."""
    if not s or len(s) > 200:
        return None
    try:
        toks = _tokens(s)
        if len(toks) == 1 and toks[0] in _VARS:
            return None  # a bare symbol: math-verify compares it by name
        p = _Parser(toks)
        v, _ = p.expr()
        if p.peek() is not None:
            return None
    except (_Refuse, OverflowError, ValueError, ZeroDivisionError):
        return None
    if not all(math.isfinite(a) for a in v):
        return None
    return Value(v, p.variable, p.radical)


def clearly_equal(a: float, b: float) -> bool:
    """Whether two values agree to 12 significant digits."""
    return abs(a - b) <= 1e-12 * max(1.0, abs(a), abs(b))


def clearly_different(a: float, b: float) -> bool:
    """Whether two values are far enough apart that no rounding makes them equal."""
    return abs(a - b) > max(2e-6, 1e-9 * max(abs(a), abs(b)))


def compare(a: Value, b: Value) -> bool | None:
    """False if the values differ somewhere, True if they are provably-enough equal,
    None if undecided (see the module docstring)."""
    if any(clearly_different(x, y) for x, y in zip(a.values, b.values)):
        return False
    if all(clearly_equal(x, y) for x, y in zip(a.values, b.values)):
        if (a.variable or b.variable) and (a.radical or b.radical):
            return None
        return True
    return None
