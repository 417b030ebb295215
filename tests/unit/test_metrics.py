"""Metric values against hand-computed ones (each example is worked in comments)."""
import math

import numpy as np
import pytest

from nmframe.metrics import (
    RecordError,
    bootstrap_ci,
    compare_runs,
    compute_metrics,
    grade_records,
    mean_se,
    pass_at_k,
    permutation_pvalue,
    sign_test_pvalue,
)


def recs(pid, subset, outcomes, answers=None, tokens=None, gold=None):
    answers = answers or ["1"] * len(outcomes)
    out = []
    for i, (o, a) in enumerate(zip(outcomes, answers)):
        r = {"problem_id": pid, "subset": subset, "sample_index": i, "predicted_answer": a, "outcome": o}
        if tokens:
            r["tokens"] = tokens[i]
        if gold is not None:
            r["expected_answer"] = gold
        out.append(r)
    return out


C, W, U = "correct", "wrong", "ungraded"


def test_pass_at_k_hand_values():
    # n=4, c=1, k=2: 1 - C(3,2)/C(4,2) = 1 - 3/6 = 0.5
    assert pass_at_k(4, 1, 2) == pytest.approx(0.5)
    # n=5, c=2, k=3: 1 - C(3,3)/C(5,3) = 1 - 1/10 = 0.9
    assert pass_at_k(5, 2, 3) == pytest.approx(0.9)
    # k=1 is c/n; n-c < k gives 1; c=0 gives 0
    assert pass_at_k(16, 5, 1) == pytest.approx(5 / 16)
    assert pass_at_k(4, 3, 2) == 1.0
    assert pass_at_k(16, 0, 8) == 0.0
    # large n stays finite: n=1000, c=1, k=10 -> 10/1000
    assert pass_at_k(1000, 1, 10) == pytest.approx(0.01)
    with pytest.raises(ValueError, match="0 < k <= n"):
        pass_at_k(4, 1, 5)


def test_mean_se_hand_values():
    # values 0, 1/2, 1: mean 1/2, sd(ddof=1) = sqrt((1/4+0+1/4)/2) = 1/2, SE = 1/2/sqrt(3)
    m, se = mean_se([0.0, 0.5, 1.0])
    assert m == pytest.approx(0.5)
    assert se == pytest.approx(0.5 / math.sqrt(3))
    assert mean_se([0.3]) == (0.3, None)
    assert mean_se([]) == (None, None)


def test_compute_metrics_hand_example():
    # Problem a (aime24): C W C U  -> graded 3, correct 2: acc 2/3; all-samples 2/4
    # Problem b (aime25): W W C W, one sample without answer -> acc 1/4
    # pass@1 (graded) = (2/3 + 1/4)/2 = 11/24; SE = |2/3 - 1/4| / 2 = 5/24 (two values: sd = diff/sqrt2)
    # pass@1_all = (2/4 + 1/4)/2 = 3/8; wrong_rate = (1/4 + 3/4)/2 = 1/2; ungraded_rate = (1/4+0)/2 = 1/8
    # no_answer_rate = (0 + 1/4)/2 = 1/8; mean tokens = mean(0,10,20,30 twice) = 15
    # pass@2: a: n=3,c=2 -> 1; b: n=4,c=1 -> 1/2 => 3/4
    # pass@4: a has only 3 graded -> skipped; b: n=4,c=1,k=4 -> 1 => 1.0
    # maj@4: a answers 5,4,5,x -> "5" (graded correct against gold 5); b answers 1,1,2,None -> "1" wrong
    rows = (recs("a", "aime24", [C, W, C, U], ["5", "4", "5", "x"], [0, 10, 20, 30], gold="5")
            + recs("b", "aime25", [W, W, C, W], ["1", "1", "2", None], [0, 10, 20, 30], gold="2"))
    m = compute_metrics(rows, ks=(1, 2, 4))
    o = m["overall"]
    assert o["problems"] == 2 and o["samples"] == 8
    assert o["pass@1"] == pytest.approx(11 / 24)
    assert o["pass@1_se"] == pytest.approx(5 / 24)
    assert o["pass@1_all"] == pytest.approx(3 / 8)
    assert o["wrong_rate"] == pytest.approx(1 / 2)
    assert o["ungraded_rate"] == pytest.approx(1 / 8)
    assert o["pass@1_all"] + o["wrong_rate"] + o["ungraded_rate"] == pytest.approx(1.0)
    assert o["no_answer_rate"] == pytest.approx(1 / 8)
    assert o["ungraded_samples"] == 1
    assert o["mean_tokens"] == pytest.approx(15.0)
    assert o["pass@2"] == pytest.approx(3 / 4)
    assert o["pass@4"] == pytest.approx(1.0) and o["pass@4_problems_skipped"] == 1
    assert o["maj@4"] == pytest.approx(1 / 2) and o["maj@4_ungraded"] == 0
    # maj@1 = first sample: a correct, b wrong
    assert o["maj@1"] == pytest.approx(1 / 2)
    assert set(m["by_subset"]) == {"aime24", "aime25"}
    assert m["by_subset"]["aime24"]["pass@1"] == pytest.approx(2 / 3)
    assert m["by_subset"]["aime24"]["pass@1_se"] is None
    assert m["by_subset"]["aime25"]["maj@4"] == 0.0
    # bootstrap over 2 problems: every replicate mean is in {1/4, 11/24, 2/3}
    lo, hi = o["pass@1_ci"]
    assert 0.25 <= lo <= hi <= 2 / 3


def test_maj_k_equivalence_classes_and_ties():
    # answers 1/2, 0.5, 3, 3 -> classes {1/2, 0.5}: 2 votes and {3}: 2 votes; tie -> the class
    # seen first ({1/2, 0.5}); gold 1/2 -> correct. Without gold: outcome of the representative's
    # sample ("1/2" at index 0, correct).
    rows = recs("p", "aime24", [C, C, W, W], ["1/2", "0.5", "3", "3"])
    assert compute_metrics(rows, ks=(4,), golds={"p": "1/2"})["overall"]["maj@4"] == 1.0
    assert compute_metrics(rows, ks=(4,))["overall"]["maj@4"] == 1.0
    # first k=3 samples only: 1/2, 0.5, 3 -> {1/2,0.5} wins with 2 votes
    assert compute_metrics(rows, ks=(3,), golds={"p": "1/2"})["overall"]["maj@3"] == 1.0
    # reversed order: 3 appears first -> tie goes to "3" -> wrong
    rev = recs("p", "aime24", [W, W, C, C], ["3", "3", "1/2", "0.5"])
    assert compute_metrics(rev, ks=(4,), golds={"p": "1/2"})["overall"]["maj@4"] == 0.0


def test_no_answer_majority_is_wrong_not_ungraded():
    rows = recs("p", None, [W, W], [None, None])
    o = compute_metrics(rows, ks=(2,), golds={"p": "7"})["overall"]
    assert o["maj@2"] == 0.0 and o["maj@2_ungraded"] == 0 and o["no_answer_rate"] == 1.0


def test_only_ungraded_problem_left_out_of_graded_pass1():
    rows = recs("a", "aime24", [U, U]) + recs("b", "aime24", [C, W])
    o = compute_metrics(rows)["overall"]
    assert o["problems_without_graded"] == 1
    assert o["pass@1"] == pytest.approx(0.5)          # only b
    assert o["pass@1_all"] == pytest.approx(0.25)     # (0 + 1/2) / 2
    assert o["ungraded_rate"] == pytest.approx(0.5)   # (1 + 0) / 2


def test_record_errors_are_clear():
    with pytest.raises(RecordError, match="duplicate sample_index 0"):
        compute_metrics(recs("a", None, [C]) + recs("a", None, [C]))
    with pytest.raises(RecordError, match="outcome 'maybe'"):
        compute_metrics(recs("a", None, ["maybe"]))
    with pytest.raises(RecordError, match="no problem_id"):
        compute_metrics([{"sample_index": 0, "outcome": C}])


def test_grade_records_uses_gold_first_and_accepts_tables():
    import pyarrow as pa

    table = pa.Table.from_pylist([
        {"problem_id": "p", "subset": "aime24", "sample_index": 0, "predicted_answer": "016"},
        {"problem_id": "p", "subset": "aime24", "sample_index": 1, "predicted_answer": "\\text{17}"},
        {"problem_id": "p", "subset": "aime24", "sample_index": 2, "predicted_answer": None},
    ])
    graded = grade_records(table, {"p": "16"})
    assert [r["outcome"] for r in graded] == [C, W, W]
    assert graded[2]["grade_reason"] == "no answer"
    with pytest.raises(RecordError, match="has no gold answer"):
        grade_records(table, {})


def test_bootstrap_ci_is_seeded_and_bounded():
    vals = [0.0, 0.25, 0.5, 1.0, 1.0]
    a = bootstrap_ci(vals, seed=3, n_boot=500)
    assert a == bootstrap_ci(vals, seed=3, n_boot=500)
    assert 0.0 <= a[0] < np.mean(vals) < a[1] <= 1.0
    assert bootstrap_ci([0.5, 0.5], n_boot=100) == (0.5, 0.5)
    assert bootstrap_ci([]) is None


def test_sign_and_permutation_hand_values():
    # sign test: 5 wins, 0 losses: p = 2 * (1/2)^5 = 1/16
    assert sign_test_pvalue(5, 0) == pytest.approx(1 / 16)
    # 3 vs 1: p = 2 * (C(4,0)+C(4,1))/16 = 10/16
    assert sign_test_pvalue(3, 1) == pytest.approx(10 / 16)
    assert sign_test_pvalue(0, 0) == 1.0
    # permutation, d = (1, 1, 1): of 8 sign flips only +++ and --- reach |mean| = 1 -> p = 2/8
    p, exact = permutation_pvalue(np.array([1.0, 1.0, 1.0]))
    assert exact and p == pytest.approx(0.25)
    # d = (1, -1): all four flips have |mean| in {0, 1}; observed 0 -> p = 1
    assert permutation_pvalue(np.array([1.0, -1.0]))[0] == 1.0


def test_compare_runs_paired():
    # 8 problems, 2 samples each. A solves none; B solves both samples of every problem:
    # d_i = 1 for all: exact permutation p = 2/256; sign test p = 2/256 -> significant at 0.05
    a = sum((recs(f"p{i}", "aime24", [W, W]) for i in range(8)), [])
    b = sum((recs(f"p{i}", "aime24", [C, C]) for i in range(8)), [])
    r = compare_runs(a, b, alpha=0.05)
    assert r.problems == 8 and r.diff == pytest.approx(1.0)
    assert r.p_permutation == pytest.approx(2 / 256) and r.exact
    assert r.p_sign == pytest.approx(2 / 256)
    assert r.significant and r.b_better == 8 and r.a_better == 0
    # one problem better, one worse, the rest tied: not significant by any method
    b2 = (recs("p0", "aime24", [C, C]) + recs("p1", "aime24", [W, W])
          + sum((recs(f"p{i}", "aime24", [W, W]) for i in range(2, 8)), []))
    a2 = (recs("p0", "aime24", [W, W]) + recs("p1", "aime24", [C, C])
          + sum((recs(f"p{i}", "aime24", [W, W]) for i in range(2, 8)), []))
    for method in ("permutation", "sign", "bootstrap"):
        r2 = compare_runs(a2, b2, method=method)
        assert not r2.significant and r2.diff == 0.0 and r2.ties == 6
    with pytest.raises(ValueError, match="1 only in A"):
        compare_runs(a, b[:-2])
