"""maj@k under the two voting conventions (metrics.vote / metrics.ties).

The fixture has the shape of the authors' evaluator's inputs (NeMo-Skills: per problem, k
predictions with `predicted_answer` and a correctness flag). The expected numbers under
vote=exact, ties=average were computed by that evaluator's own majority@k / pass@k code on
these predictions: majority@2 58.33, majority@3 55.56, majority@4 62.50, pass@2 69.44,
pass@4 83.33, pass@1[avg-of-4] 45.83, no_answer 25.0 (percent).
"""
import pytest

from nmframe.metrics import compute_metrics, majority_score, group_by_problem

C, W = "correct", "wrong"
FIXTURE = [  # (gold, predicted answers, correctness as graded per sample)
    ("1/3", ["1/2", "0.5", "1/3", "1/3"], [W, W, C, C]),
    ("2", ["2", "3", "3", "2"], [C, W, W, C]),
    ("7", [None, "7", None, "8"], [W, C, W, W]),
    ("5", [None, None, None, None], [W, W, W, W]),
    ("9", ["9", "9", "4", "9"], [C, C, W, C]),
    ("1/2", ["\\frac{1}{2}", "0.5", "1/2", "3"], [C, C, C, W]),
]


def records():
    return [{"problem_id": f"p{i}", "subset": "s", "sample_index": j, "predicted_answer": a,
             "outcome": o, "expected_answer": gold}
            for i, (gold, answers, outcomes) in enumerate(FIXTURE)
            for j, (a, o) in enumerate(zip(answers, outcomes))]


def test_authors_conventions_match_their_evaluator():
    m = compute_metrics(records(), ks=(1, 2, 3, 4), vote="exact", ties="average", n_boot=10)["overall"]
    assert m["pass@1"] == pytest.approx(0.458333, abs=1e-6)
    assert m["no_answer_rate"] == pytest.approx(0.25)
    assert m["maj@2"] == pytest.approx(0.583333, abs=1e-6)
    assert m["maj@3"] == pytest.approx(0.555556, abs=1e-6)
    assert m["maj@4"] == pytest.approx(0.625)
    assert m["pass@2"] == pytest.approx(0.694444, abs=1e-6)
    assert m["pass@4"] == pytest.approx(0.833333, abs=1e-6)
    assert (m["maj_vote"], m["maj_ties"]) == ("exact", "average")


def test_equivalence_classes_with_first_tie_differ_where_expected():
    m = compute_metrics(records(), ks=(4,), n_boot=10)["overall"]  # defaults: equivalence, first
    # p0: {1/2, 0.5} ties {1/3} 2-2, the class seen first (wrong) wins: 0 (exact/average: 1)
    # p1: 2 vs 3 tie, "2" first: 1 (average: 0.5); p2: 7 first: 1 (average: 0.5)
    # p5: \frac{1}{2}, 0.5, 1/2 are one class of 3 votes: 1 (exact/average: 0.75)
    assert m["maj@4"] == pytest.approx((0 + 1 + 1 + 0 + 1 + 1) / 6)
    assert (m["maj_vote"], m["maj_ties"]) == ("equivalence", "first")


@pytest.mark.parametrize("vote,ties,score", [
    ("equivalence", "first", 0.0), ("equivalence", "average", 0.0),
    ("exact", "first", 1.0), ("exact", "average", 1.0),
])
def test_issue_example_string_vote_vs_classes(vote, ties, score):
    # 1/2, 0.5, \frac{1}{2} are one class of 3 (wrong); as strings "1/3" leads with 2 votes (right)
    answers = ["1/2", "0.5", "\\frac{1}{2}", "1/3", "1/3"]
    recs = [{"problem_id": "p", "sample_index": j, "predicted_answer": a, "outcome": C if a == "1/3" else W,
             "expected_answer": "1/3"} for j, a in enumerate(answers)]
    [ps] = group_by_problem(recs)
    assert majority_score(ps, 5, vote=vote, ties=ties)[1] == score


def test_ungraded_tied_class_is_never_counted_wrong():
    recs = [{"problem_id": "p", "sample_index": j, "predicted_answer": a, "outcome": o, "expected_answer": "2"}
            for j, (a, o) in enumerate([("2", C), ("x^x^x", "ungraded")])]
    [ps] = group_by_problem(recs)
    assert majority_score(ps, 2, vote="exact", ties="average") == ("2", None)
    assert majority_score(ps, 2, vote="exact", ties="first") == ("2", 1.0)
    m = compute_metrics(recs, ks=(2,), vote="exact", ties="average", n_boot=10)["overall"]
    assert m["maj@2"] is None and m["maj@2_ungraded"] == 1


def test_unknown_convention_is_refused():
    [ps] = group_by_problem(records()[:4])
    with pytest.raises(ValueError, match="'plurality' is not a valid Vote"):
        majority_score(ps, 4, vote="plurality")
