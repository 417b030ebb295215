"""The cheap deciders: constant-arithmetic values and number tuples/intervals/sets must
read answers exactly as math-verify does, or refuse."""
import math

import pytest
import sympy

from nmframe.answers import tuples
from nmframe.answers.arith import _VARS as SAMPLE_POINTS
from nmframe.answers.arith import clearly_different, clearly_equal, compare, evaluate
from nmframe.answers.mv_judge import parse_answer
from nmframe.answers.numbers import parse_number


@pytest.mark.parametrize(
    "s, value",
    [
        (r"2\sqrt{3}", 2 * math.sqrt(3)),
        (r"\frac{\pi}{2}", math.pi / 2),
        (r"\frac12", 0.5),
        (r"\frac{3\sqrt{2}}{4}", 3 * math.sqrt(2) / 4),
        (r"2\pi/3", 2 * math.pi / 3),
        (r"-2^{2}", -4.0),
        (r"2^{10}", 1024.0),
        (r"\sqrt{2}^{2}", 2.0),
        (r"3+4\sqrt{5}", 3 + 4 * math.sqrt(5)),
        (r"2\cdot3/4\cdot5", 7.5),
        (r"1.5\times4", 6.0),
        (r"(1+\sqrt{5})/2", (1 + math.sqrt(5)) / 2),
    ],
)
def test_evaluate(s, value):
    v = evaluate(s)
    assert v.values == pytest.approx((value,) * 3, rel=1e-12)
    assert (v.variable, v.radical) == (False, False)


@pytest.mark.parametrize(
    "s",
    [
        r"1/2\pi",  # math-verify: 1/(2 pi)
        "6(131)",  # math-verify: 137
        r"1\frac{1}{2}",  # mixed number
        r"\pi4",
        r"\sqrt12",
        r"\pi(2)",
        "x",  # a bare symbol: math-verify compares names
        "x2",
        "x(x+1)",
        "a+1",  # only x, y, z, n, k are variables
        "5m",  # a unit to math-verify
        "2^{x}",
        "2^2^2",
        r"9^{9^{9^{9}}}",
        r"\sqrt{-4}",
        "1/0",
        r"2,\sqrt{3}",
        "",
    ],
)
def test_evaluate_refuses(s):
    assert evaluate(s) is None


READ_LIKE_MATH_VERIFY = [
    r"2\sqrt{3}", r"\frac{\pi}{2}", r"\frac12", r"2\pi/3", r"-2^{2}", r"\sqrt{2}^{2}",
    r"2\cdot3/4\cdot5", r"\frac{1}{2}\pi", r"2\pi\sqrt{3}", "1/2/3", r"2\times\pi/4",
    r"\sqrt{\frac{3}{4}}", r"\frac{\sqrt{6}-\sqrt{2}}{4}", r"-\frac{7}{3}+2\sqrt{2}", r"4^{-1}",
    r"\frac{2^{5}}{3}", r"(2+\sqrt{3})^{2}", r"\sqrt{2}\sqrt{8}", r"10\pi-3",
]


@pytest.mark.parametrize("s", READ_LIKE_MATH_VERIFY)
def test_evaluate_reads_like_math_verify(s):
    parsed = [x for x in parse_answer(s) if not isinstance(x, str)]
    assert parsed, s
    assert evaluate(s).values[0] == pytest.approx(float(sympy.N(parsed[0], 30)), rel=1e-12)


POLYNOMIALS = [r"x^2+8x+2", r"2+8x+x^{2}", r"(x+1)^{2}", r"\frac{x^2-1}{x-1}", r"3xy-2z",
               r"\frac{n\cdot(n+1)}{2}", r"k^3-\frac{1}{2}k", r"\sqrt{2}x+\pi"]


@pytest.mark.parametrize("s", POLYNOMIALS)
def test_polynomials_read_like_math_verify(s):
    parsed = [x for x in parse_answer(s) if not isinstance(x, str)]
    v = evaluate(s)
    assert v is not None and v.variable and not v.radical
    for i in range(3):
        subs = {sym: SAMPLE_POINTS[sym.name][i] for sym in parsed[0].free_symbols}
        assert v.values[i] == pytest.approx(float(parsed[0].subs(subs).evalf(30)), rel=1e-10)


def test_compare_values():
    assert compare(evaluate("x^2+2x+1"), evaluate("(x+1)^2")) is True
    assert compare(evaluate("x^2+2x+1"), evaluate("(x-1)^2")) is False
    assert compare(evaluate("x^2+1"), evaluate("n^2+1")) is False  # different variables
    assert compare(evaluate(r"\sqrt{x^2}"), evaluate("x+0")) is False  # |x| != x at a negative point
    assert compare(evaluate(r"\sqrt{(x+3)^2}"), evaluate("x+3")) is None  # root of a variable: undecided
    assert compare(evaluate(r"2\sqrt{3}"), evaluate(r"\sqrt{12}")) is True
    assert compare(evaluate(r"\sqrt{5+2\sqrt{6}}"), evaluate(r"\sqrt{2}+\sqrt{3}")) is True
    assert compare(evaluate("1/3"), evaluate("0.333333")) is None


def test_clearly_equal_and_different():
    assert clearly_equal(0.1 + 0.2, 0.3)
    assert not clearly_different(0.1 + 0.2, 0.3)
    assert clearly_different(1.0, 1.00001)
    assert not clearly_different(1 / 3, 0.333333)  # math-verify rounds to 6 places: undecided
    assert not clearly_equal(1 / 3, 0.333333)
    assert clearly_different(1e20, 1.000001e20)


@pytest.mark.parametrize(
    "s, expected",
    [
        ("16", 16), ("-007", -7), ("1,000", 1000), ("1,00", None), ("0.5", 0.5), (".5", 0.5),
        (r"\frac{3}{4}", 0.75), (r"-\frac{3}{4}", -0.75), (r"\frac{-3}{4}", -0.75), ("3/4", 0.75),
        ("1.5e3", 1500), (r"1.5\times10^{3}", 1500), ("10^{6}", 10**6), ("1/0", None),
        ("1e999999999", None), ("x", None), ("(1,2)", None),
    ],
)
def test_parse_number(s, expected):
    v = parse_number(s)
    assert (v if v is None else float(v)) == expected


@pytest.mark.parametrize(
    "gold, pred, expected",
    [
        ("(1,2)", "(1,2)", True), ("(1,2)", "(2,1)", False), ("(2,1)", "(2,1)", True),
        ("(1,2,3)", "(1,2)", False), ("[1,2)", "[1,2]", False), ("[1,2)", "(1,2)", False),
        ("[1,2)", "[1,2)", True), ("(1,2)", "[1,2]", False), (r"\{1,2\}", r"\{2,1\}", True),
        (r"\{1,2\}", r"\{1,2,3\}", False), (r"\{1,1,2\}", r"\{1,2\}", True),
        ("(3,1)", "[1,3]", False), (r"(\frac{1}{2},3)", "(1/2,3)", True),
        ("(1,2)", r"\{1,2\}", True),  # math-verify reads the set in written order against a tuple
        ("(0.5,1)", "(1/2,1)", None), ("[2,1]", "[2,1]", None), (r"(1,\infty)", r"(1,\infty)", None),
        ("(1,x)", "(1,x)", None), ("(1,2)", "5", False), (r"\{1,2\}", "1", False), ("5", "[1,9)", False),
        (r"\{5\}", "5", None),  # math-verify: a one-element set equals its element
    ],
)
def test_tuples(gold, pred, expected):
    assert tuples.compare(gold, pred) is expected
