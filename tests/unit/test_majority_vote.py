"""Majority vote: equivalent answers vote together, None never votes, documented ties."""
from nmframe.answers import MajorityResult, majority_vote
from nmframe.answers import majority as majority_mod
from nmframe.answers.verdict import UNGRADED, Verdict


def test_equivalent_spellings_vote_together():
    r = majority_vote(["1/2", "0.5", r"\frac{1}{2}", "3", "3"])
    assert r.answer == "1/2"
    assert r.count == 3
    assert r.classes == [("1/2", 3, [0, 1, 2]), ("3", 2, [3, 4])]


def test_leading_zeros_and_representative_is_most_common_spelling():
    r = majority_vote(["016", "16", "16", "17"])
    assert r.answer == "16"
    assert r.count == 3
    assert r.classes == [("16", 3, [0, 1, 2]), ("17", 1, [3])]


def test_symbolic_equivalence_through_math_verify():
    r = majority_vote([r"\frac{\sqrt{2}}{2}", "2", r"\sqrt{2}/2", r"\frac{1}{\sqrt{2}}", "2"])
    assert r.answer == r"\frac{\sqrt{2}}{2}"
    assert r.count == 3
    assert r.classes == [(r"\frac{\sqrt{2}}{2}", 3, [0, 2, 3]), ("2", 2, [1, 4])]


def test_tie_goes_to_class_whose_first_member_is_earliest():
    assert majority_vote(["5", "7", "7", "5"]).answer == "5"
    assert majority_vote(["7", "5", "5", "7"]).answer == "7"
    r = majority_vote(["9", "5", "7", "7", "5"])
    assert (r.answer, r.count) == ("5", 2)


def test_none_never_votes():
    r = majority_vote([None, None, None, "4"])
    assert (r.answer, r.count) == ("4", 1)
    assert r.classes == [("4", 1, [3])]
    r = majority_vote([None, "", "  "])
    assert r == MajorityResult(None, 0, [])
    assert majority_vote([]) == MajorityResult(None, 0, [])


def test_pm_and_sets_and_equations_stay_apart():
    r = majority_vote([r"\pm 2", "2", "2", "x^2-4=0", "0", "0", "0"])
    assert r.answer == "0"
    assert r.count == 3
    assert [c[1] for c in r.classes] == [1, 2, 1, 3]


def test_assignment_votes_with_its_value():
    r = majority_vote(["x = 2", "2", "3"])
    assert r.classes == [("x = 2", 2, [0, 1]), ("3", 1, [2])]


def test_custom_equivalence_and_grouping_by_normal_form_first():
    calls = []

    def same_letters(a, b):
        calls.append((a, b))
        return a.lower() == b.lower()

    answers = ["A", "$A$", "a", "b", "A", "a"]
    r = majority_vote(answers, equivalent=same_letters)
    assert r.answer == "A"
    assert r.count == 5
    assert r.classes == [("A", 5, [0, 1, 2, 4, 5]), ("b", 1, [3])]
    # three normal forms (A, a, b): only class representatives are compared
    assert calls == [("A", "a"), ("A", "b")]


def test_comparisons_are_between_distinct_forms_only():
    calls = []

    def never(a, b):
        calls.append((a, b))
        return False

    answers = ["1", "2", "3"] * 16
    r = majority_vote(answers, equivalent=never)
    assert [c[1] for c in r.classes] == [16, 16, 16]
    assert r.answer == "1"
    assert len(calls) == 3  # (1,2), (1,3), (2,3)


def test_ungraded_comparison_is_not_equivalence(monkeypatch):
    monkeypatch.setattr(majority_mod, "grade", lambda a, b, timeout=5.0: Verdict(UNGRADED, "timeout"))
    r = majority_vote(["1/2", r"\frac{1}{2}", r"\frac{1}{2}"])
    assert r.classes == [("1/2", 1, [0]), (r"\frac{1}{2}", 2, [1, 2])]
    assert r.answer == r"\frac{1}{2}"
