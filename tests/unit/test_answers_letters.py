"""Single-letter (multiple-choice) answers: decided as math-verify reads them, or left to it."""
import pytest

from nmframe.answers import grade, normalize
from nmframe.answers.letters import compare, letter


@pytest.mark.parametrize("raw,read", [
    ("B", "b"), ("b", "b"), (r"\text{B}", "b"), (r"\textbf{(B)}", "b"), ("(B)", "b"),
    (r"(\text{C})", "c"), (r"\mathrm{D}", "d"),
    # the imaginary unit and anything that is not one letter in one wrapper
    ("I", None), ("i", None), ("(B", None), ("B}", None), (r"\text{B", None), ("AB", None),
    (r"\frac{B}{2}", None), (r"\text{B})", None), ("2", None),
])
def test_letter_reading(raw, read):
    assert letter(normalize(raw)) == read


@pytest.mark.parametrize("gold,pred,same", [
    ("B", r"\textbf{(B)}", True),
    ("B", "b", True),           # math-verify compares symbol names without case
    ("E", "e", True),
    ("B", r"\text{C}", False),
    ("A", "(D)", False),
    ("I", r"\text{I}", None),   # I is the imaginary unit to math-verify: left to it
    ("B", "2", None),
])
def test_letter_compare(gold, pred, same):
    assert compare(normalize(gold), normalize(pred)) is same


def test_letters_are_decided_without_math_verify():
    assert grade("C", r"\textbf{(C)}").reason == "fast-path letter"
    assert grade("C", r"\text{D}").outcome == "wrong"
