"""Tuples, sets and open intervals of exact numbers: decided in math-verify's order rules."""
import pytest

from nmframe.answers import grade, normalize
from nmframe.answers.normalize import strip_assignment
from nmframe.answers.tuples import compare


@pytest.mark.parametrize("gold,pred,same", [
    ("(0,4,7)", r"\{0,4,7\}", True),     # a gold tuple reads the predicted set in written order
    ("(0,4,7)", r"\{4,0,7\}", False),
    ("(1,2)", r"\{1,2\}", True),         # an open interval against a two-element set
    ("(1,2)", r"\{2,1\}", False),
    (r"\{1,2\}", "(2,1)", True),         # a gold set is compared in sorted order
    (r"\{1,2,3\}", "(3,1,2)", True),
    (r"\{1,2\}", "(1,2,3)", False),
    ("(8,5)", "(8)", False),             # a pair against a number in parentheses
    ("(-2,-5,-2)", r"\{-2,-5,-2\}", None),  # repeated entries: sets drop them, left to math-verify
    ("[1,2]", r"\{1,2\}", None),         # closed interval against a set: left to math-verify
])
def test_set_against_sequence(gold, pred, same):
    assert compare(normalize(gold), normalize(pred)) is same


@pytest.mark.parametrize("pred,stripped", [
    ("(x,y)=(7,3)", "(7,3)"),
    ("(x,y,z)=(1,2,3)", "(1,2,3)"),
    ("(x,y)=(1,2,3)", "(x,y)=(1,2,3)"),   # lengths differ
    ("(x,y)=((1,2),3)", "(x,y)=((1,2),3)"),
    ("(x,y)=(1,y+1)", "(1,y+1)"),
    ("(x,2)=(1,2)", "(x,2)=(1,2)"),       # not a tuple of variables
])
def test_tuple_assignment_is_dropped(pred, stripped):
    assert strip_assignment(normalize(pred)) == stripped


def test_point_stated_as_assignment_is_correct():
    assert grade("(7,3)", "(x, y) = (7, 3)").outcome == "correct"
    assert grade("(7,3)", "(x, y) = (3, 7)").outcome == "wrong"
    assert grade("x=1", "(x,y)=(1,2)").reason != "fast-path structure"  # gold is an equation
