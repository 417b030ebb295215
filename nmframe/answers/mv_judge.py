"""The math-verify comparison, with its known false positives guarded.

This module runs inside the grading worker processes (see :mod:`.grading_process`); it is plain
code with no timeout of its own, because the parent process enforces the timeout by
killing the worker. math-verify's signal-based timeouts are disabled
(``parse(..., parsing_timeout=None)``, ``verify(..., timeout_seconds=None)``, the
parameter names of math-verify 0.9) since ``SIGALRM`` only works in the main thread.

The gold answer is always the first argument of ``verify``: it is asymmetric.

Guards applied before ``verify`` (each makes a verdict "wrong" that math-verify would
call "correct"):

* prediction is an equation, gold is not: math-verify keeps only the prediction's right
  side, so ``x^2-1=0`` would equal a gold ``0``. Allowed only when the prediction's left
  side is one bare variable (``x = 2``) or a function of bare variables (``f(x) = ...``).
* gold is an assignment, prediction is not an equation: math-verify keeps only the
  gold's right side. Allowed only when that right side is a value with no free symbols
  (gold ``x = 2``, prediction ``2``) or the left side is a function whose arguments
  cover the right side's symbols (gold ``f(x) = 2x+1``, prediction ``2x+1``). Gold
  ``y = 2x+1`` against ``2x+1`` is wrong: the gold is the equation of a curve, the
  prediction an expression.
* gold is an equation that is not an assignment (``x^2-1=0``) and the prediction is a
  set: math-verify would compare the gold's solution set; an equation asked for is not
  answered by its roots.

Before ``verify``, two plain expressions whose values clearly differ (constants, or
with free symbols at one point of their domain: :func:`clearly_different_values`) are
declared different without it (``verify`` would only reach the same answer after a
slow ``simplify``). The LaTeX parser runs ANTLR's exact two-stage strategy (SLL first,
full LL when that fails: :mod:`.two_stage_parse`) and starts from the prediction cache
an earlier process saved (:mod:`.parser_cache`).

Errors raised inside the comparison make the verdict "ungraded" (reason ``error: ...``),
never "wrong".

Speed: parsing is most of math-verify's cost (latex2sympy2's ANTLR parser), so each
distinct string is parsed once per process (:func:`parse_answer` memoises results and
failures: the parse is a pure function of the string), and the prediction is parsed
first: a prediction math-verify reads as nothing is "wrong" whatever the gold, since
``verify(gold, [])`` compares no candidates and is False, so the gold is not parsed
for it. The memoised lists are shared between pairs; ``verify`` and the guards only
read them.
"""
from __future__ import annotations

import logging
import math

_PARSE_CACHE: dict[str, list | Exception] = {}
_PARSE_CACHE_MAX = 50_000
_mv = None  # the math_verify bits, imported on first use


def _load():
    global _mv
    if _mv is None:
        logging.getLogger("math_verify").setLevel(logging.CRITICAL)
        logging.getLogger("latex2sympy2_extended").setLevel(logging.CRITICAL)
        import math_verify
        from math_verify import grader

        from . import parser_cache, two_stage_parse

        two_stage_parse.install()
        parser_cache.load()
        import sympy
        from sympy import Expr, Float, Set, Symbol, UnevaluatedExpr
        from sympy.core.function import AppliedUndef
        from sympy.matrices.expressions import MatrixExpr

        _mv = {
            "parse": math_verify.parse,
            "verify": math_verify.verify,
            "configs": [math_verify.LatexExtractionConfig(), math_verify.ExprExtractionConfig()],
            "grader": grader,
            "Set": Set,
            "Symbol": Symbol,
            "AppliedUndef": AppliedUndef,
            "Expr": Expr,
            "Float": Float,
            "UnevaluatedExpr": UnevaluatedExpr,
            "MatrixExpr": MatrixExpr,
            "sympy": sympy,
        }
    return _mv


def _wrap(s: str) -> str:
    if "$" in s or "\\boxed" in s:
        return s
    return f"${s}$"


def parse_answer(s: str) -> list:
    """math-verify's parse of an answer string (memoised, failures too; errors propagate).

    The returned list is shared by every caller of the same string: read it, never change it.
    """
    hit = _PARSE_CACHE.get(s)
    if hit is None:
        mv = _load()
        try:
            hit = mv["parse"](_wrap(s), mv["configs"], parsing_timeout=None, raise_on_error=True)
        except (MemoryError, RecursionError):
            raise  # may depend on the state of the process: not a property of the string
        except Exception as e:  # noqa: BLE001 - the same string fails the same way again
            e.__traceback__ = None
            hit = e
        if len(_PARSE_CACHE) >= _PARSE_CACHE_MAX:
            _PARSE_CACHE.clear()
        _PARSE_CACHE[s] = hit
    if isinstance(hit, Exception):
        raise hit
    return hit


def _lhs_kind(expr) -> str | None:
    mv = _load()
    lhs = mv["grader"].take_first_relation(expr).lhs
    if isinstance(lhs, mv["Symbol"]):
        return "symbol"
    if isinstance(lhs, mv["AppliedUndef"]) and all(isinstance(a, mv["Symbol"]) for a in lhs.args):
        return "function"
    return None


def guard(gold, pred) -> str | None:
    """Name of the guard that rejects this sympy pair, or None if verify may decide."""
    mv = _load()
    g = mv["grader"]
    gold_eq = g.is_equation(gold)
    pred_eq = g.is_equation(pred)
    if pred_eq and not gold_eq and _lhs_kind(pred) is None:
        return "guard: prediction equation collapses to its right side"
    if g.is_assignment_relation(gold) and not pred_eq:
        rhs = g.take_last_relation(gold).rhs
        free = getattr(rhs, "free_symbols", set())
        kind = _lhs_kind(gold)
        if free and not (kind == "function"
                         and free <= set(g.take_first_relation(gold).lhs.args)):
            return "guard: gold equation vs bare expression"
    if gold_eq and not g.is_assignment_relation(gold) and isinstance(pred, mv["Set"]):
        return "guard: gold equation vs set of roots"
    return None


def _sample_point(symbols) -> dict | None:
    """A value for each free symbol, each consistent with that symbol's assumptions
    (positive non-integer rationals), or None if one does not fit (an integer symbol)."""
    sympy = _load()["sympy"]
    point = {}
    for i, sym in enumerate(sorted(symbols, key=str)):
        value = sympy.Rational(1 + 3 * (i + 1), 7) + sympy.Rational(i, 13)
        for key, wanted in sym.assumptions0.items():
            if getattr(value, "is_" + key, None) != wanted:
                return None
        point[sym] = value
    return point


def clearly_different_values(gold, pred) -> bool:
    """Both are plain expressions whose values clearly differ: as constants, or, with free
    symbols, at one point of the symbols' domain, so they are not the same function.
    Then every test ``verify`` runs on such a pair (structural and string equality, the
    numeric comparison, ``simplify(gold - pred)`` being zero) can only say False, and its
    ``simplify`` is the costly part. Decimals are included: math-verify rounds them to 6
    places, and values more than 2e-6 apart never round to the same. Left to ``verify``:
    percentages, bare symbols (compared by name, ``\\text{yes}`` = ``yes``), matrices,
    sets, relations, and whatever does not evaluate to finite numbers."""
    mv = _load()
    Expr = mv["Expr"]
    if not (isinstance(gold, Expr) and isinstance(pred, Expr)):
        return False
    if isinstance(gold, mv["Symbol"]) or isinstance(pred, mv["Symbol"]):
        return False
    if isinstance(gold, mv["MatrixExpr"]) or isinstance(pred, mv["MatrixExpr"]):
        return False
    if gold.has(mv["UnevaluatedExpr"]) or pred.has(mv["UnevaluatedExpr"]):
        return False  # a percentage: math-verify compares 9% with 9 by its number
    symbols = gold.free_symbols | pred.free_symbols
    point = _sample_point(symbols)
    if point is None:
        return False
    try:
        a = complex(gold.evalf(30, subs=point))
        b = complex(pred.evalf(30, subs=point))
    except (TypeError, ValueError, OverflowError, AttributeError):
        return False
    if not all(map(math.isfinite, (a.real, a.imag, b.real, b.imag))):
        return False
    diff = abs(a - b)
    return diff > 2e-6 and diff > 1e-9 * max(abs(a), abs(b))


def judge(gold: str, pred: str) -> tuple[str, str]:
    """("correct" | "wrong" | "ungraded", reason) for two normalised answer strings."""
    mv = _load()
    try:
        pred_parsed = parse_answer(pred)
        if not pred_parsed:  # verify(gold, []) is False for every gold: no need to parse it
            return "wrong", "math-verify (prediction not parsed)"
        gold_parsed = parse_answer(gold)
    except Exception as e:  # noqa: BLE001 - any failure means "could not decide"
        return "ungraded", f"error: parse: {type(e).__name__}: {str(e)[:200]}"
    gold_syms = [x for x in gold_parsed if not isinstance(x, str)]
    pred_syms = [x for x in pred_parsed if not isinstance(x, str)]
    gold_strs = [x.strip() for x in gold_parsed if isinstance(x, str)]
    pred_strs = [x.strip() for x in pred_parsed if isinstance(x, str)]
    if any(s and s in pred_strs for s in gold_strs):
        return "correct", "math-verify (string)"
    if not gold_syms:
        return "wrong", "math-verify (gold not parsed)"
    if not pred_syms:
        return "wrong", "math-verify (prediction not parsed)"
    error = None
    guarded = None
    for g in gold_syms:
        for p in pred_syms:
            try:
                why = guard(g, p)
                if why is not None:
                    guarded = why
                    continue
                if clearly_different_values(g, p):
                    continue
                if mv["verify"](g, p, timeout_seconds=None, raise_on_error=True):
                    return "correct", "math-verify"
            except Exception as e:  # noqa: BLE001
                error = f"error: {type(e).__name__}: {str(e)[:200]}"
    if error is not None:
        return "ungraded", error
    if guarded is not None:
        return "wrong", guarded
    return "wrong", "math-verify"
