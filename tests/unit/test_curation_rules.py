"""Curation decisions: rules settle the clear rows, the LLM the rest, unreadable replies are
"no decision" with a reason (decided_by rule | llm | none); the two methods of classify and
decontaminate side by side."""
from __future__ import annotations

from nmframe.curation.answers import answer_rule, boxed_all, decide_answers
from nmframe.curation.classify import classify_rule, decide_categories, decide_heuristic
from nmframe.curation.decontam import NgramIndex, decide_contamination, decide_ngram
from nmframe.curation.extract import decide_problems, problem_rows, problem_rule, sentences
from nmframe.curation.llm import CurationLLM, Reply
from nmframe.sources.thread import Answer, RawThread


def scripted(replies_by_marker: dict[str, str | None]):
    """A CurationLLM whose reply depends on a marker found in the prompt; records the prompts."""
    seen: list[str] = []

    def complete(prompts):
        out = []
        for p in prompts:
            seen.append(p)
            reply = next((r for m, r in replies_by_marker.items() if m in p), "???")
            out.append(Reply(reply) if reply is not None else Reply(None, "error: server: boom"))
        return out

    return CurationLLM(complete, "scripted", batch_size=2), seen


def thread(post, answers=(), **kw):
    return RawThread(source_id="t", data_source="aops", post=post, answers=[Answer(*a) for a in answers],
                     origin="f.jsonl:1", **kw)


def test_problem_rule():
    d = problem_rule(thread("Find all real $x$ with $x^2 = 2.5$."))
    assert (d.decided_by, d.value) == ("rule", ["Find all real $x$ with $x^2 = 2.5$."])
    assert d.reason == "single statement: 1 sentence(s), 35 chars, no chatter or enumeration"
    assert problem_rule(thread("Hi all! Find $x$.")) is None                     # chatter
    assert problem_rule(thread("1. Find $x$.\n2. Find $y$.")) is None             # several items
    assert problem_rule(thread("Find x. Then find y. Then find z.")) is None     # three sentences
    assert problem_rule(thread("Find $x$ as in the title.")) is None
    assert sentences("Let $a=1.5$. Find $a$") == 2


def test_decide_problems_llm_and_unreadable():
    llm, seen = scripted({"POST-A": "<problem>Find $a$.</problem><problem>Find $b$.</problem>",
                          "POST-B": "<no_problem/>", "POST-C": "<problem>unclosed", "POST-D": None})
    ts = [thread("Find $x$."), *(thread(f"Hello, help me. POST-{k} Find it. And more. And more.") for k in "ABCD")]
    replies = {}
    ds = decide_problems(ts, llm, replies=replies)
    assert [d.decided_by for d in ds] == ["rule", "llm", "llm", "none", "none"]
    assert ds[1].value == ["Find $a$.", "Find $b$."] and ds[2].value == []
    assert ds[3].reason == "no decision: unreadable reply (1 <problem> tag(s) but 0 </problem>)"
    assert ds[4].reason == "no decision: error: server: boom"
    assert replies == {"ok": 2, "unreadable": 1, "error": 1}
    assert len(seen) == 4 and llm.calls == 4
    rows = problem_rows(ts[1], ds[1])
    assert [r["origin"] for r in rows] == ["f.jsonl:1#1", "f.jsonl:1#2"]
    assert rows[0]["prep"]["extract"] == {"decided_by": "llm", "reason": "llm extracted 2 problem(s)", "problems": 2}
    assert rows[0]["metadata"]["parts"] == 2 and rows[0]["expected_answer"] is None


def test_backend_none_gives_no_decision():
    ds = decide_problems([thread("Hello. Help me find $x$. Thanks.")], None)
    assert (ds[0].decided_by, ds[0].reason) == ("none", "no decision: needs the LLM, and prep.backend=none")


def test_answer_rules():
    assert boxed_all("a \\boxed{1} b \\boxed{\\frac{1}{2}} \\fbox{3} \\boxed{") == ["1", "\\frac{1}{2}", "3"]
    row = {"problem": "p", "answers": [{"kind": "accepted", "text": "so $\\boxed{55}$"},
                                       {"kind": "top_voted", "text": "\\boxed{56}"}], "metadata": {}}
    d = answer_rule(row)
    assert (d.decided_by, d.value, d.reason) == ("rule", "55", "\\boxed{} answer in the accepted answer")
    row = {"problem": "p", "answers": [{"kind": "post", "text": "\\boxed{0.5}"}, {"kind": "post", "text": "\\boxed{1/2}"}]}
    assert answer_rule(row).value == "1/2"                                       # equivalent boxes agree
    assert answer_rule({"problem": "p", "answers": [{"kind": "post", "text": "\\boxed{1}"},
                                                    {"kind": "post", "text": "\\boxed{2}"}]}) is None
    d = answer_rule({"problem": "p", "answers": [], "discussion": None})
    assert (d.decided_by, d.value, d.reason) == ("rule", None, "no answers in the thread")
    assert answer_rule({"problem": "p", "answers": [{"kind": "post", "text": "\\boxed{1}"}],
                        "metadata": {"parts": 2}}) is None


def test_decide_answers_llm():
    llm, _ = scripted({"Q-A": "Final answer: \\boxed{7}", "Q-B": "Final answer: none", "Q-C": "the answer is 7"})
    rows = [{"problem": f"Q-{k}", "answers": [{"kind": "post", "text": "it is 7"}]} for k in "ABC"]
    ds = decide_answers(rows, llm)
    assert [(d.decided_by, d.value) for d in ds] == [("llm", "7"), ("llm", None), ("none", None)]
    assert ds[2].reason == "no decision: unreadable reply (no 'Final answer:' line)"


def test_classify_rules_and_llm():
    assert classify_rule("Which is larger? (A) 1 (B) 2 (C) 3 (D) 4").value == "multiple_choice"
    d = classify_rule("Prove that $\\sqrt 2$ is irrational.")
    assert (d.decided_by, d.value) == ("rule", "proof")
    d = classify_rule("Find the number of divisors of $360$.")
    assert (d.decided_by, d.value) == ("rule", "ok")
    assert classify_rule("Prove that $f$ is injective and find $f(2)$.") is None   # mixed: the LLM decides
    assert classify_rule("x") .value == "invalid"
    llm, seen = scripted({"Is there an integer": "Judgement: yes", "Let $n$ be": "Judgement: no",
                          "Consider the map": "I am not sure."})
    texts = ["Is there an integer $n$ with $n^2 = 2$?", "Let $n$ be odd. Show that $n^2-1$ is even and find it mod 8.",
             "Consider the map $f$."]
    ds = decide_categories(texts, llm)
    assert [(d.decided_by, d.value) for d in ds[:2]] == [("llm", "invalid"), ("llm", "ok")]
    assert ds[2].decided_by == "none" and ds[2].reason.startswith("no decision: unreadable reply for invalid: ")
    assert len(seen) == 1 + 4 + 4


def test_decontamination_rules_and_llm():
    bench = [{"id": "b1", "problem": "Find the number of ordered pairs of positive integers (m, n) such that "
                                    "m^2 n = 20^20.", "subset": "aime"}]
    index = NgramIndex(bench, n=5)
    clean = decide_contamination(["Compute the area of a unit circle."], index, None)[0]
    assert (clean.decided_by, clean.value) == ("rule", "clean")
    copy = decide_contamination([bench[0]["problem"]], index, None)[0]
    assert (copy.decided_by, copy.value) == ("rule", "contaminated") and copy.extra["match"]["benchmark_id"] == "b1"
    near = "Find the number of ordered pairs of positive integers (a, b) with a + b = 10."
    for reply, want in (("Judgement: no", ("llm", "clean")), ("Judgement: yes", ("llm", "contaminated")),
                        ("garbage", ("none", None))):
        llm, _ = scripted({"ordered pairs": reply})
        d = decide_contamination([near], index, llm)[0]
        assert (d.decided_by, d.value) == want
    assert decide_contamination([near], index, None)[0].reason == "no decision: needs the LLM, and prep.backend=none"


def test_classify_methods_on_the_same_problems():
    """heuristic: the first matching rule decides everything; rules_llm: only confident rules decide,
    the LLM gets the mixed and rule-less problems."""
    texts = ["Prove that $f$ is injective and find $f(2)$.",       # proof rule, but asks a value
             "Let $S$ be the set of primes below 10.",             # no rule at all
             "Which is larger? (A) 1 (B) 2 (C) 3 (D) 4"]
    heur = decide_heuristic(texts)
    assert [(d.decided_by, d.value) for d in heur] == [("rule", "proof"), ("rule", "ok"), ("rule", "multiple_choice")]
    llm, seen = scripted({"injective": "Judgement: no", "set of primes": "Judgement: no"})
    both = decide_categories(texts, llm)
    assert [(d.decided_by, d.value) for d in both] == [("llm", "ok"), ("llm", "ok"), ("rule", "multiple_choice")]
    assert len(seen) == 2 * 4                                     # two problems asked, one prompt per category
    # only the categories to remove are asked about
    llm, seen = scripted({"proof": "Judgement: no"})
    decide_categories(texts[:1], llm, categories=["proof"])
    assert len(seen) == 1


def test_decontam_methods_on_the_same_problems():
    bench = [{"id": "b1", "problem": "Find the number of ordered pairs of positive integers (m, n) such that "
                                    "m^2 n = 20^20.", "subset": "aime"}]
    index = NgramIndex(bench, n=5)
    near = "Find the number of ordered pairs of positive integers (a, b) with a + b = 10."
    assert [(d.decided_by, d.value) for d in decide_ngram([near, "Compute 2+2."], index)] == [
        ("rule", "contaminated"), ("rule", "clean")]
    llm, seen = scripted({"ordered pairs": "Judgement: no"})
    d = decide_contamination([near], index, llm)[0]
    assert (d.decided_by, d.value, d.extra["match"]["benchmark_id"]) == ("llm", "clean", "b1") and len(seen) == 1
