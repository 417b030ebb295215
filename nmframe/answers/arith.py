"""Floating-point values of simple LaTeX arithmetic, to decide most comparisons cheaply.

Parsing LaTeX into sympy costs tens of milliseconds, and most comparisons that get that
far are simple: ``2\\sqrt{3}`` against ``3\\sqrt{2}``, ``\\frac{3\\pi}{4}`` against
``\\frac{\\pi}{4}``, ``x^2+8x+2`` against ``2+8x+x^2``. When both answers are in a
small, unambiguous grammar, their values are computed here at three fixed points (the
variables ``x y z n k i`` take different, irrational-looking values, some negative):

* values clearly differ at some point -> the answers differ (wrong);
* values agree to 12 significant digits at every point -> equal (correct), for
  constants, and for expressions in variables only when they are rational functions
  (no root or fractional power of a variable: ``\\sqrt{x^2}`` is ``|x|``);
* otherwise (a decimal close to the exact value, roots of variables) -> math-verify.

Agreeing values are equal answers even where sympy's simplification would fail to
prove it (nested radicals: ``\\sqrt{5+2\\sqrt{6}}`` and ``\\sqrt{2}+\\sqrt{3}``).

Grammar (anything else returns None and math-verify decides): numbers (``12``,
``1.5``), factorials of integers (``5!``, up to 3000!), the variables above, ``+ - * / \\cdot \\times``, unary signs,
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
the same 6-place decimal. "Agree" needs a magnitude where doubles hold 12 digits; constants
made of integers, fractions and integer powers are also evaluated exactly (``Fraction``),
which decides ``2^{100}`` against ``2^{100}+1`` and reciprocals of large factorials.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

_TOKEN = re.compile(r"\s*(\d+(?:\.\d+)?|\\frac|\\sqrt|\\pi|\\cdot|\\times|[xyznki]|[-+*/^(){}!])")
_MAX_FACTORIAL = 3000  # 3000! has 9131 digits and takes well under a millisecond
_MAX_EXP = 1000.0
_VARS = {
    "x": (0.5772156649015329, -1.3247179572447460, 2.2360679774997897),
    "y": (1.6180339887498949, 0.7390851332151607, -0.5671432904097838),
    "z": (-0.8414709848078965, 1.2020569031595942, 0.9159655941772190),
    "n": (2.6854520010653064, -0.2078795763507619, 1.4142135623730951),
    "k": (0.3183098861837907, 1.7320508075688772, -2.0287578381104342),
    # math-verify reads i as a symbol, not the imaginary unit: 0.5+0.5i is a polynomial in i
    "i": (1.3063778838630806, -0.4428544010023885, 0.6931471805599453),
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
    exact: Fraction | None = None  # the exact value of a rational constant
    decimal: bool = False          # written with a decimal point


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

    # the number domain: floats at the sample points (see _ExactParser for exact rationals)
    @staticmethod
    def const(tok: str) -> Vec:
        return _const(float(tok))

    @staticmethod
    def factorial(n: int) -> Vec:
        return _const(float(math.factorial(n)))  # OverflowError past 170!: the exact value decides

    @staticmethod
    def var(name: str) -> Vec:
        return _VARS[name]

    @staticmethod
    def pi() -> Vec:
        return _const(math.pi)

    @staticmethod
    def add(a: Vec, b: Vec) -> Vec:
        return tuple(x + y for x, y in zip(a, b))

    @staticmethod
    def neg(a: Vec) -> Vec:
        return tuple(-x for x in a)

    @staticmethod
    def mul(a: Vec, b: Vec) -> Vec:
        return tuple(x * y for x, y in zip(a, b))

    @staticmethod
    def inv(a: Vec) -> Vec:
        if any(abs(x) < 1e-300 for x in a):
            raise _Refuse
        return tuple(1.0 / x for x in a)

    @staticmethod
    def sqrt(a: Vec) -> Vec:
        if any(x < 0 for x in a):
            raise _Refuse
        return tuple(math.sqrt(x) for x in a)

    @staticmethod
    def pow(base: Vec, e: float) -> Vec:
        integral = e == int(e)
        out = []
        for b in base:
            if (b < 0 and not integral) or (b == 0 and e <= 0):
                raise _Refuse
            out.append(b ** e)
        return tuple(out)

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
            v = self.add(v, r) if op == "+" else self.add(v, self.neg(r))
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
                r = self.inv(d)
                after_div = True
            elif tok in ("\\sqrt", "\\pi") or (tok is not None and tok in _VARS):
                if after_div:
                    raise _Refuse  # math-verify reads 1/2\pi as 1/(2\pi)
                r, rdep = self.power()
            else:
                return v, dep
            v = self.mul(v, r)
            dep = dep or rdep

    def unary(self) -> tuple[Vec, bool]:
        tok = self.peek()
        if tok == "-":
            self.take()
            v, dep = self.unary()
            return self.neg(v), dep
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
            ev, edep = self.const(tok), False
        e = ev[0]
        if edep or self.peek() == "^" or abs(e) > _MAX_EXP:
            raise _Refuse
        if e != int(e) and dep:
            self.radical = True
        return self.pow(base, e), dep

    def group_or_digit(self) -> tuple[Vec, bool]:
        if self.peek() == "{":
            self.take()
            v = self.expr()
            self.take("}")
            return v
        tok = self.take()
        if not (tok.isdigit() and len(tok) == 1):
            raise _Refuse  # \sqrt12 is sqrt(1)*2 in TeX: too easy to misread, refuse
        return self.const(tok), False

    def _no_digit_next(self) -> None:
        nxt = self.peek()
        if nxt is not None and nxt[0].isdigit():
            raise _Refuse

    def atom(self) -> tuple[Vec, bool]:
        tok = self.take()
        if tok[0].isdigit():
            if self.peek() == "\\frac":
                raise _Refuse  # mixed number
            if self.peek() == "!":
                self.take()
                if "." in tok or int(tok) > _MAX_FACTORIAL or self.peek() == "!":
                    raise _Refuse  # n!! is a double factorial
                return self.factorial(int(tok)), False
            return self.const(tok), False
        if tok in _VARS:
            self._no_digit_next()
            self.variable = True
            return self.var(tok), True
        if tok == "\\pi":
            self._no_digit_next()
            return self.pi(), False
        if tok == "\\sqrt":
            v, dep = self.group_or_digit()
            if dep:
                self.radical = True
            return self.sqrt(v), dep
        if tok == "\\frac":
            nxt = self.peek()
            if nxt is not None and len(nxt) == 2 and nxt.isdigit():
                self.take()
                num, nd = self.const(nxt[0]), False
                den, dd = self.const(nxt[1]), False
            else:
                num, nd = self.group_or_digit()
                den, dd = self.group_or_digit()
            return self.mul(num, self.inv(den)), nd or dd
        if tok in ("(", "{"):
            v = self.expr()
            self.take(")" if tok == "(" else "}")
            return v
        raise _Refuse


class _ExactParser(_Parser):
    """The same grammar over exact rationals, for constants without roots or pi: floats
    cannot tell ``2^{100}`` from ``2^{100}+1`` or ``1/20!`` from ``1/21!`` written out."""

    @staticmethod
    def const(tok: str) -> Vec:
        return (Fraction(tok),)

    @staticmethod
    def factorial(n: int) -> Vec:
        return (Fraction(math.factorial(n)),)  # no decimal string: past 4300 digits int(str) refuses

    @staticmethod
    def var(name: str) -> Vec:
        raise _Refuse

    @staticmethod
    def pi() -> Vec:
        raise _Refuse

    @staticmethod
    def sqrt(a: Vec) -> Vec:
        raise _Refuse

    @staticmethod
    def inv(a: Vec) -> Vec:
        if a[0] == 0:
            raise _Refuse
        return (1 / a[0],)

    @staticmethod
    def pow(base: Vec, e) -> Vec:
        b = base[0]
        if e != int(e) or (b == 0 and e <= 0):
            raise _Refuse
        if max(b.numerator.bit_length(), b.denominator.bit_length()) * abs(int(e)) > _MAX_EXACT_BITS:
            raise _Refuse
        return (b ** int(e),)


_MAX_EXACT_BITS = 1 << 16


def _run(parser: type[_Parser], toks: list[str]) -> tuple[Vec, _Parser] | None:
    try:
        p = parser(toks)
        v, _ = p.expr()
    except (_Refuse, OverflowError, ValueError, ZeroDivisionError):
        return None
    return (v, p) if p.peek() is None else None


@lru_cache(maxsize=1 << 16)
def evaluate(s: str) -> Value | None:
    """Values of ``s`` at the sample points (and its exact value, for a rational constant)
    if it is in the grammar above, else None."""
    if not s or len(s) > 200:
        return None
    try:
        toks = _tokens(s)
    except _Refuse:
        return None
    if len(toks) == 1 and toks[0] in _VARS:
        return None  # a bare symbol: math-verify compares it by name
    floats = _run(_Parser, toks)
    exact = _run(_ExactParser, toks)
    ex = exact[0][0] if exact else None
    decimal = any("." in t for t in toks)
    if floats is None or not all(math.isfinite(a) for a in floats[0]):
        return None if ex is None else Value((), False, False, ex, decimal)
    v, p = floats
    return Value(v, p.variable, p.radical, ex, decimal)


def clearly_equal(a: float, b: float) -> bool:
    """Whether two values agree to 12 significant digits, at a magnitude where doubles
    carry them (exact zeros agree; beyond 1e12 or below 1e-9 floats decide nothing)."""
    if a == b == 0.0:
        return True
    m = max(abs(a), abs(b))
    return 1e-9 <= m <= 1e12 and abs(a - b) <= 1e-12 * m


def clearly_different(a: float, b: float) -> bool:
    """Whether two values are far enough apart that no rounding makes them equal."""
    return abs(a - b) > max(2e-6, 1e-9 * max(abs(a), abs(b)))


def compare(a: Value, b: Value) -> bool | None:
    """False if the values differ somewhere, True if they are provably-enough equal,
    None if undecided (see the module docstring). Two rational constants are compared
    exactly; unequal ones are "wrong" only when neither is written with a decimal point
    (math-verify rounds decimals: ``0.333333`` may stand for ``1/3``)."""
    if a.exact is not None and b.exact is not None:
        if a.exact == b.exact:
            return True
        if not (a.decimal or b.decimal):
            return False
    if not a.values or not b.values:
        return None
    if any(clearly_different(x, y) for x, y in zip(a.values, b.values)):
        return False
    if all(clearly_equal(x, y) for x, y in zip(a.values, b.values)):
        if (a.variable or b.variable) and (a.radical or b.radical):
            return None
        return True
    return None
