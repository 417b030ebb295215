"""Triviality, correctness, classification rules, decontamination n-grams and the tally on hand-built data."""
import pytest

from nmframe.curation.correctness import decide_traces, trace_answer
from nmframe.curation.decontam import NgramIndex, decide_ngram, load_benchmarks, words
from nmframe.curation.llm import load_backend
from nmframe.curation.prompts import render
from nmframe.curation.rules import classify_heuristic
from nmframe.curation.tally import Tally
from nmframe.curation.trivial import counts_from_metadata, decide_from_metadata, decide_from_samples, is_trivial

# ---- triviality -------------------------------------------------------------------------------

def meta(pw, cw, pn, cn):
    return {"reason_low_with_tool": {"count": cw, "pass": pw, "accuracy": pw / cw if cw else 0},
            "reason_low_no_tool": {"count": cn, "pass": pn, "accuracy": pn / cn if cn else 0},
            "reason_high_with_tool": {"count": 8, "pass": 0, "accuracy": 0.0}}


def test_threshold_and_strictness():
    # 13/16 = 0.8125 > 0.8 -> trivial; 12/15 = 0.8 exactly: strict keeps, non-strict removes
    assert is_trivial(13, 16, 0.8, True)
    assert not is_trivial(12, 15, 0.8, True)
    assert is_trivial(12, 15, 0.8, False)
    assert not is_trivial(12, 16, 0.8, False)  # 0.75
    assert not is_trivial(0, 0)


def test_metadata_pools_with_and_without_tool():
    # with tool 8/8, without 5/8 -> (8+5)/(8+8) = 13/16 = 0.8125 > 0.8 -> removed
    row = {"expected_answer": "3", "metadata": meta(8, 8, 5, 8)}
    assert counts_from_metadata(row["metadata"]) == (13, 16)
    d = decide_from_metadata(row)
    assert d.remove and d.reason == "trivial" and d.pass_rate == pytest.approx(13 / 16)
    # with tool 8/8, without 4/8 -> 12/16 = 0.75 -> kept
    assert not decide_from_metadata({"expected_answer": "3", "metadata": meta(8, 8, 4, 8)}).remove
    # exactly 0.8 with strict=False -> removed: 4/5 + 4/5 -> 8/10
    assert decide_from_metadata({"expected_answer": "3", "metadata": meta(4, 5, 4, 5)}, 0.8, False).remove
    assert not decide_from_metadata({"expected_answer": "3", "metadata": meta(4, 5, 4, 5)}, 0.8, True).remove
    # only one tool setting present: its counts alone
    one = {"expected_answer": "3", "metadata": {"reason_low_no_tool": {"count": 8, "pass": 7}}}
    assert decide_from_metadata(one).passes == 7 and decide_from_metadata(one).count == 8


def test_metadata_edge_cases_are_counted_not_guessed():
    assert decide_from_metadata({"expected_answer": "3", "metadata": {}}).reason == "no attempts"
    assert not decide_from_metadata({"expected_answer": "3", "metadata": {}}).remove
    bad = {"expected_answer": "3", "metadata": {"reason_low_with_tool": {"count": 8, "pass": 9}}}
    assert decide_from_metadata(bad).reason == "bad metadata" and not decide_from_metadata(bad).remove
    bad2 = {"expected_answer": "3", "metadata": {"reason_low_with_tool": {"count": "8", "pass": 1}}}
    assert decide_from_metadata(bad2).reason == "bad metadata"
    assert decide_from_metadata({"expected_answer": None, "metadata": meta(0, 8, 0, 8)}).reason == "no expected_answer"
    # another mode's counts
    assert decide_from_metadata({"expected_answer": "3", "metadata": meta(0, 8, 0, 8)}, mode="high").count == 8


def test_triviality_from_samples_ungraded_leave_denominator(monkeypatch):
    import nmframe.curation.trivial as trivial
    from nmframe.answers import Verdict

    probs = [{"id": "a", "expected_answer": "5"}, {"id": "b", "expected_answer": "5"},
             {"id": "c", "expected_answer": None}]
    # a: 14 of 16 correct (016 == 5? no: "05" == 5 yes) -> 0.875 > 0.8 -> trivial
    answers = {"a": ["5"] * 13 + ["05", "4", None], "b": ["5"] * 8 + ["6"] * 8, "c": ["1"]}
    ds = decide_from_samples(probs, answers)
    assert (ds[0].remove, ds[0].passes, ds[0].count) == (True, 14, 16)
    assert (ds[1].remove, ds[1].passes, ds[1].count) == (False, 8, 16)
    assert ds[2].reason == "no expected_answer" and ds[2].remove

    # ungraded attempts are neither passes nor failures: 12 correct, 2 wrong, 2 ungraded -> 12/14
    real = trivial.grade_many

    def fake(pairs, **kw):
        out = real(pairs, **kw)
        return [Verdict("ungraded", "timeout") if p[1] == "slow" else v for p, v in zip(pairs, out)]

    monkeypatch.setattr(trivial, "grade_many", fake)
    d = decide_from_samples([probs[0]], {"a": ["5"] * 12 + ["4", "4", "slow", "slow"]})[0]
    assert (d.passes, d.count, d.ungraded) == (12, 14, 2) and d.remove  # 12/14 = 0.857


# ---- correctness --------------------------------------------------------------------------------

def test_correctness_reasons():
    traces = [{"problem_id": "a", "answer": "1/2"}, {"problem_id": "a", "answer": "0.4"},
              {"problem_id": "a", "answer": None}, {"problem_id": "gone", "answer": "1"},
              {"problem_id": "n", "answer": "1"}]
    ds = decide_traces(traces, {"a": "0.5", "n": None})
    assert [(d.keep, d.reason) for d in ds] == [(True, "correct"), (False, "wrong"), (False, "no answer"),
                                                 (False, "problem removed"), (False, "no expected_answer")]


def test_correctness_ungraded_counted_apart_and_configurable(monkeypatch):
    import nmframe.curation.correctness as corr
    from nmframe.answers import Verdict

    monkeypatch.setattr(corr, "grade_many", lambda pairs, **kw: [Verdict("ungraded", "timeout")] * len(pairs))
    t = [{"problem_id": "a", "answer": "x"}]
    assert decide_traces(t, {"a": "y"})[0] == corr.TraceDecision(False, "ungraded", "timeout")
    assert decide_traces(t, {"a": "y"}, keep_ungraded=True)[0].keep


def test_correctness_on_released_rows():
    rows = [{"expected_answer": "12", "messages": [
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": "so \\boxed{12}."}]},
            {"expected_answer": "12", "messages": [{"role": "assistant", "content": "\\boxed{13}"}]},
            {"expected_answer": "12", "messages": '[{"role": "assistant", "content": "no box"}]'}]
    assert trace_answer(rows[0]) == "12" and trace_answer(rows[2]) is None
    assert [d.reason for d in decide_traces(rows)] == ["correct", "wrong", "no answer"]


def test_tally_report_shape():
    t = Tally()
    t.add("aops", "kept", kept=True)
    t.add("aops", "trivial", kept=False, n=2)
    t.add(None, "trivial", kept=False)
    rep = t.to_dict()
    assert rep["total"] == 4 and rep["kept"] == 1 and rep["removed"] == 3 and rep["undecided"] == 0
    assert rep["by_reason"] == {"kept": 1, "trivial": 3}
    assert rep["by_data_source"]["aops"] == {"total": 3, "kept": 1, "removed": 2, "undecided": 0,
                                             "by_reason": {"kept": 1, "trivial": 2}}
    assert rep["by_data_source"]["unknown"]["removed"] == 1
    assert "by_decided_by" not in rep  # no decider recorded: no decider table


def test_tally_deciders_and_held_rows():
    t = Tally(examples=1)
    t.add("se", "ok", decided_by="rule")
    t.add("se", "proof", kept=False, decided_by="llm")
    t.add("aops", "undecided", kept=None, decided_by="none", example={"id": "a"})
    t.add("aops", "undecided", kept=None, decided_by="none", example={"id": "b"})
    rep = t.to_dict()
    assert (rep["kept"], rep["removed"], rep["undecided"]) == (1, 1, 2)
    assert rep["by_decided_by"] == {"llm": 1, "none": 2, "rule": 1}
    assert {"data_source": "aops", "decided_by": "none", "reason": "undecided", "count": 2} in rep["counts"]
    assert rep["undecided_examples"] == [{"id": "a"}]  # at most `examples`


# ---- classification -----------------------------------------------------------------------------

@pytest.mark.parametrize("text,category,rule", [
    ("Prove that there are infinitely many primes.", "proof", "prove"),
    ("Let $a,b>0$. Show that $a^2+b^2\\ge 2ab$.", "proof", "show that"),
    ("What is $2+2$? $\\textbf{(A)}\\ 3 \\qquad \\textbf{(B)}\\ 4 \\qquad \\textbf{(C)}\\ 5$", "multiple_choice",
     "options (A)..(E)"),
    ("What is $2+2$? $\\textbf{A.}\\ 3 \\qquad \\textbf{B.}\\ 4 \\qquad \\textbf{C.}\\ 5$", "multiple_choice",
     "options \\textbf{(A)}"),
    ("Find x. (A) 1 (B) 2 (C) 3 (D) 4 (E) 5", "multiple_choice", "options (A)..(E)"),
    ("Which of the following numbers is prime: 4, 6, 7?", "multiple_choice", "which of the following"),
    ("Is it true that every even number greater than 2 is a sum of two primes?", "yes_no", "is it true"),
    ("Does there exist a triangle with sides 1, 2, 3?", "yes_no", "does there exist"),
    ("Answer yes or no: is 91 prime?", "yes_no", "yes or no"),
    ("Determine whether the series $\\sum 1/n^2$ converges.", "yes_no", "determine whether"),
    ("hi", "invalid", "too short"),
    ("https://example.com/problem/123", "invalid", "only a link"),
    ("Solve the problem in the attached picture please", "invalid", "refers to an attachment"),
    ("Find the number of positive divisors of $36$.", "ok", None),
    ("[asy] dot(A); dot(B); dot(C); [/asy] Find the area of triangle $ABC$ with sides 3, 4, 5.", "ok", None),
])
def test_classify_heuristic(text, category, rule):
    c = classify_heuristic(text)
    assert c.value == category and c.decided_by == "rule"
    if rule:
        assert c.reason.startswith(rule + ":")


def test_classify_heuristic_respects_categories():
    assert classify_heuristic("Prove that 1 < 2.", categories=["multiple_choice"]).value == "ok"


def test_prompts_render_with_latex_braces():
    text = render("classify_proof", problem="Show $\\frac{1}{2}$")
    assert "Show $\\frac{1}{2}$" in text and text.rstrip().endswith("Judgement: no")
    for name in ("judge_equivalence", "classify_invalid", "classify_multiple_choice", "classify_yes_no",
                 "decontam_same_problem"):
        assert "Judgement: yes" in render(name)


def test_load_backend_errors():
    assert load_backend(None) is None
    with pytest.raises(ValueError, match="module:factory"):
        load_backend("nocolon")
    with pytest.raises(ValueError, match="cannot load LLM backend"):
        load_backend("nmframe.curation.llm:missing_factory")


# ---- decontamination ----------------------------------------------------------------------------

BENCH = [{"id": "b1", "subset": "aime24", "problem": "Find the number of ordered pairs $(x,y)$ of integers such "
          "that $x^2 + y^2 = 25$ and both x and y lie strictly between minus ten and ten inclusive."},
         {"id": "b2", "subset": "aime25", "problem": "Compute $2^{10} \\bmod 7$."}]


def test_decontam_ngram_and_short_benchmarks():
    idx = NgramIndex(BENCH, n=13)
    reworded = ("Problem 5. find the number of ordered pairs (x, y) of integers such that x^2+y^2=25 "
                "and both x and y lie strictly between minus ten and ten inclusive. Good luck!")
    decontam = lambda text: decide_ngram([text], idx)[0]
    d = decontam(reworded)
    assert (d.decided_by, d.value, d.extra["match"]["benchmark_id"]) == ("rule", "contaminated", "b1")
    assert d.extra["match"]["containment"] == pytest.approx(1.0)
    # a short benchmark problem (< 13 words) is caught verbatim
    assert decontam("Homework: compute $2^{10}\\bmod 7$ please").extra["match"]["benchmark_id"] == "b2"
    assert decontam("Find the number of ordered pairs of reals with x+y=3.").value == "clean"
    assert words("$17_b$ divides $\\left(97_b\\right)$") == ["17", "b", "divides", "97", "b"]
    # min_shared: 12 consecutive words of b1 share no 13-gram
    assert decontam("find the number of ordered pairs x y of integers such that").value == "clean"
    # min_shared=2: a single shared gram is no candidate
    assert decide_ngram(["Homework: compute $2^{10}\\bmod 7$ please"], idx, min_shared=2)[0].value == "clean"


def test_shipped_benchmarks_load():
    rows = load_benchmarks(["pkg://benchmarks/comp-math-24-25.jsonl"])
    assert len(rows) == 256
    assert {r["subset"] for r in rows} == {"aime24", "aime25", "hmmt-24-25"}
    with pytest.raises(FileNotFoundError, match="benchmark file not found"):
        load_benchmarks(["/nonexistent/bench.jsonl"])
