"""math-verify's parse is memoised per distinct string and the prediction is parsed first:
the verdicts must be the ones of a parse per pair, and the ones math-verify itself gives."""
from __future__ import annotations

import pytest

from nmframe.answers import mv_judge
from nmframe.answers.pool import _gold_chunks, _workers_needed

# (gold, prediction): golds repeated across predictions like the samples of one problem,
# predictions repeated across golds like recurring junk, malformed ones included
TABLE = [
    (r"\frac{1}{2}", "0.5"),
    (r"\frac{1}{2}", r"\frac{2}{4}"),
    (r"\frac{1}{2}", "N/A"),
    (r"\frac{1}{2}", r"\frac{1}{"),
    (r"\frac{1}{2}", r"\boxed{"),
    (r"\frac{1}{2}", "1,2,,3"),
    ("1.2", "1,2,,3"),
    (r"\{3,4\}", "3 or 4"),
    (r"(-\infty, 5]", "3 or 4"),
    (r"(-\infty, 5]", r"(-\infty,5]"),
    (r"(-\infty, 5]", "N/A"),
    (r"(-\infty, 5]", "((1,2)"),
    (r"\frac{1}{", r"\frac{1}{"),
    ("}", "}"),
    (r"3\sqrt{2}", r"\sqrt{18}"),
    (r"3\sqrt{2}", r"\text{I am not sure}"),
    (r"3\sqrt{2}", "?"),
    (r"\text{Yes}", "Yes"),
    (r"\text{Yes}", "No"),
    ("x = 2", "2"),
    ("y = 2x+1", "2x+1"),
    ("x^2-1=0", r"\{-1,1\}"),
    ("7", ""),
    ("7", "$$"),
    # junk math-verify reads as a product of symbols or a decimal, against constants
    ("127.625", "N/A"),
    ("-9", "1,2,,3"),
    (r"\frac{5}{11}", "1,2,,3"),
    (r"7\sqrt{3}", "1,2,,3"),
    ("1.2", "1.2000001"),
    (r"\text{Yes}", r"\text{No}"),
    ("Even", "odd"),
    # equal values in other forms: never declared different before verify
    (r"\sin^2 x + \cos^2 x", "1"),
    ("x+1", "1+x"),
    (r"\frac{1}{3}", "0.333333"),
    ("9\\%", "9"),
]


def _per_pair(gold: str, pred: str) -> tuple[str, str]:
    mv_judge._PARSE_CACHE.clear()
    return mv_judge.judge(gold, pred)


def test_memoised_judge_gives_the_per_pair_verdicts():
    fresh = [_per_pair(g, p) for g, p in TABLE]
    mv_judge._PARSE_CACHE.clear()
    shared = [mv_judge.judge(g, p) for g, p in TABLE]  # one cache over the whole table
    again = [mv_judge.judge(g, p) for g, p in reversed(TABLE)][::-1]
    assert shared == fresh
    assert again == fresh
    assert {o for o, _ in fresh} == {"correct", "wrong"}


def test_verdicts_are_math_verifys_outside_the_guards():
    from math_verify import parse, verify

    for (gold, pred), (outcome, reason) in zip(TABLE, (_per_pair(g, p) for g, p in TABLE)):
        if "guard" in reason:
            continue
        plain = verify(parse(mv_judge._wrap(gold)), parse(mv_judge._wrap(pred)))
        assert (outcome == "correct") == plain, (gold, pred, reason)


def test_a_prediction_read_as_nothing_is_wrong_without_parsing_the_gold():
    mv_judge._PARSE_CACHE.clear()
    assert mv_judge.judge(r"\frac{\sqrt{3}}{2}", r"\boxed{") == (
        "wrong", "math-verify (prediction not parsed)")
    assert r"\frac{\sqrt{3}}{2}" not in mv_judge._PARSE_CACHE


def test_a_parse_failure_is_memoised_and_raised_again(monkeypatch):
    mv = mv_judge._load()
    calls = []

    def failing(*args, **kwargs):
        calls.append(args[0])
        raise ValueError("bad latex")

    monkeypatch.setitem(mv, "parse", failing)
    mv_judge._PARSE_CACHE.pop("@@", None)
    for _ in range(2):
        with pytest.raises(ValueError, match="bad latex"):
            mv_judge.parse_answer("@@")
    assert calls == ["$@@$"]
    assert mv_judge.judge("1", "@@") == ("ungraded", "error: parse: ValueError: bad latex")
    mv_judge._PARSE_CACHE.pop("@@", None)


def test_pairs_of_one_gold_share_a_batch():
    pairs = [("a", "1"), ("b", "1"), ("a", "2"), ("c", "3"), ("b", "2"), ("a", "3")]
    chunks = _gold_chunks(pairs, 3)
    assert sorted(i for part in chunks for i in part) == list(range(len(pairs)))
    golds_per_chunk = [{pairs[i][0] for i in part} for part in chunks]
    assert golds_per_chunk == [{"a"}, {"b", "c"}]
    # a gold with more pairs than a batch holds is split, never merged past the size
    big = [("g", str(i)) for i in range(7)]
    assert [len(part) for part in _gold_chunks(big, 3)] == [3, 3, 1]


def test_one_worker_per_block_of_distinct_strings():
    from nmframe.answers.pool import STRINGS_PER_WORKER

    few = [("g", str(i)) for i in range(10)]
    assert _workers_needed(few) == 1
    many = [(f"g{i}", f"p{i}") for i in range(STRINGS_PER_WORKER)]
    assert _workers_needed(many) == 2


def _sym(latex: str):
    return next(x for x in mv_judge.parse_answer(latex) if not isinstance(x, str))


@pytest.mark.parametrize("gold, pred, different", [
    (r"-\frac{1}{9}", "N/A", True),          # a constant against a function of symbols
    ("127.625", "N/A", True),
    ("-9", "1,2,,3", True),                  # decimals: 6-place rounding cannot join them
    ("Yes", "No", True),                     # E*s*y against n*o
    ("x^2", "x^3", True),
    (r"\sin^2 x + \cos^2 x", "1", False),   # the same value everywhere
    ("x+1", "1+x", False),
    (r"\frac{1}{3}", "0.333333", False),     # within math-verify's rounding
    ("1.2", "1.2000001", False),
    ("9\\%", "9", False),                   # percentages stay with verify
    (r"\text{yes}", "2", False),             # a bare symbol is compared by name
    (r"\{1,2\}", "3", False),               # sets stay with verify
])
def test_clearly_different_values(gold, pred, different):
    assert mv_judge.clearly_different_values(_sym(gold), _sym(pred)) is different


def test_a_symbol_whose_assumptions_the_sample_point_breaks_is_left_to_verify():
    import sympy

    n = sympy.Symbol("n", integer=True)
    assert mv_judge._sample_point({n}) is None
    assert not mv_judge.clearly_different_values(n + 1, sympy.Integer(7))
    x = sympy.Symbol("x", real=True)
    assert mv_judge.clearly_different_values(x + 1, sympy.Integer(7))
