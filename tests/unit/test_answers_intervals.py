"""Intervals against one-variable inequalities or intervals: decided exactly, or left to math-verify."""
import pytest

from nmframe.answers import normalize
from nmframe.answers.intervals import compare


@pytest.mark.parametrize("gold,pred,expected", [
    ("(2, 5]", "2 < x \\le 5", True),
    ("[1, 3]", "1 \\le x \\le 3", True),
    ("(-\\infty, \\frac{1}{2}]", "x\\le\\frac12", True),
    ("[0,\\infty)", "x \\geq 0", True),
    ("(2,5)", "5 > x > 2", True),
    ("(0,\\infty)", "x\\ge 0", False),      # open vs closed end
    ("(2,5)", "2<x<6", False),              # another endpoint
    ("(1,2)", "x<2", False),                # a bounded interval vs a ray
    # decimal ends: exact equality decides, a difference is left to math-verify (it rounds)
    ("(1,2)", "1.0<x<2", True),
    ("(0,12.5)", "0<x<12.5", True),
    ("(0,12.5)", "0<x<12.4", None),
    ("(0,0.333333)", "(0,0.3333333)", None),
    # two intervals: the same ends and the same openness, as math-verify compares them
    ("(2,5)", "(2,5)", True),
    ("(6,\\infty)", "(6,+\\infty)", True),
    ("[-8,-4)", "x\\in[-8,-4)", True),
    ("(-\\infty,2]", "(-\\infty,2)", False),
    ("(-\\infty,2]", "[2,\\infty)", False),
    # left to math-verify: expressions, two variables, mixed directions, unions
    ("(2,5]", "x+1<3", None),
    ("(2,5)", "2<x<y", None),
    ("(2,5)", "2<x>5", None),
    ("x<3", "x<3", None),
    ("(1,2)\\cup(3,4)", "1<x<2", None),
])
def test_interval_against_inequality(gold, pred, expected):
    assert compare(normalize(gold), normalize(pred)) is expected
