"""Answer validation on hand-built solution sets, with and without an LLM judge."""
import pytest

from nmframe.curation.parse import parse_judgement
from nmframe.curation.validation import validate_answers


def run(expected, answers, **kw):
    probs = [{"id": "p", "problem": "Compute it.", "expected_answer": expected}]
    return validate_answers(probs, {"p": answers} if answers is not None else {}, **kw)[0]


def test_kept_when_one_solution_agrees_equivalently():
    # 15 say 3, one says 0.5 = 1/2 (gold): at least one agrees -> kept unchanged
    r = run("\\frac{1}{2}", ["3"] * 15 + ["0.5"])
    assert r.status == "kept" and r.agreeing == 1
    assert r.fields() == {"expected_answer": "\\frac{1}{2}", "original_expected_answer": "\\frac{1}{2}",
                          "changed_answer_to_majority": False}


def test_replaced_by_majority_when_none_agrees():
    # extracted 7; solutions: 016 x5, 16 x6, 12 x5 -> class {016,16} has 11 votes, spelled "16"
    r = run("7", ["016"] * 5 + ["16"] * 6 + ["12"] * 5)
    assert r.status == "replaced"
    assert r.fields() == {"expected_answer": "16", "original_expected_answer": "7",
                          "changed_answer_to_majority": True}
    assert r.majority_count == 11 and r.agreeing == 0


def test_filled_when_missing_and_tie_goes_to_first_class():
    # no extracted answer; 1/2 (x1) + 0.5 (x1) = 2 votes vs 3 (x2): tie -> class seen first
    r = run(None, ["1/2", "3", "0.5", "3", None])
    assert r.status == "filled" and r.expected_answer == "1/2" and r.majority_count == 2
    assert r.original_expected_answer is None and r.changed_answer_to_majority is False


def test_no_answer_anywhere_stays_without_answer():
    r = run(None, [None, None, ""])
    assert r.status == "no_answer" and r.expected_answer is None and r.answered == 0


def test_present_answer_no_solution_answered_is_unconfirmed():
    r = run("5", [None, None])
    assert r.status == "unconfirmed" and r.expected_answer == "5" and not r.changed_answer_to_majority


def test_no_samples_leaves_problem_as_is():
    r = run("5", None)
    assert r.status == "no_samples" and r.expected_answer == "5" and r.solutions == 0


def test_judge_agreement_and_malformed_replies():
    # math-verify says "x+1" is not "y"; the judge says yes -> kept with one agreeing answer
    prompts = []

    def yes(prompt):
        prompts.append(prompt)
        return "They denote the same quantity here.\nJudgement: yes"

    r = run("y", ["x+1", "x+1"], judge=yes)
    assert r.status == "kept" and r.agreeing == 2 and r.judge == {"yes": 1}
    assert "Reference answer:\ny" in prompts[0] and "Answer to check:\nx+1" in prompts[0]

    # malformed replies are "no judgement": fall back to math-verify (wrong) -> majority replaces
    for reply in ("I think so", "Judgement: maybe", "", None):
        r = run("y", ["x+1", "x+1"], judge=lambda _p, reply=reply: reply)
        assert r.status == "replaced" and r.judge == {"no judgement": 1}
        assert r.expected_answer == "x+1"

    def boom(_p):
        raise RuntimeError("server down")

    r = run("y", ["x+1"], judge=boom)
    assert r.status == "replaced" and r.judge == {"error: RuntimeError": 1}


def test_judge_is_asked_at_most_max_answers():
    calls = []
    r = run("y", ["a1", "a2", "a2", "a3", "a3", "a3"], judge=lambda p: calls.append(p) or "Judgement: no",
            judge_max_answers=2)
    # most frequent first: a3 then a2; a1 is never shown
    assert len(calls) == 2 and "Answer to check:\na3" in calls[0] and "Answer to check:\na2" in calls[1]
    assert r.status == "replaced" and r.expected_answer == "a3"


@pytest.mark.parametrize("reply,expected", [
    ("Judgement: yes", True),
    ("judgement: NO", False),
    ("Reasoning...\n**Judgement:** **yes**", True),
    ("Judgment: no.", False),
    ("Judgement: yes\nJudgement: yes", True),
    ("Judgement: yes\nJudgement: no", None),      # contradicts itself
    ("Judgement: maybe", None),
    ("Judgement: yesno", None),
    ("The answers match. Yes.", None),
    ("", None),
    (None, None),
    (42, None),
])
def test_parse_judgement(reply, expected):
    assert parse_judgement(reply) is expected
