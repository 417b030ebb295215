"""Parsing the curation LLM's replies, including malformed ones (never a silent label)."""
from __future__ import annotations

import pytest

from nmframe.curation import prompts
from nmframe.curation.parse import (
    Unreadable,
    parse_final_answer,
    parse_problems,
    parse_yes_no,
)


def test_problems_blocks():
    assert parse_problems("<problem>Find $x$.</problem>") == ["Find $x$."]
    assert parse_problems("Sure!\n<problem>\nA\n</problem>\n<PROBLEM>B</Problem>") == ["A", "B"]
    assert parse_problems("<no_problem/>") == []
    assert parse_problems("  <no_problem>  ") == []


@pytest.mark.parametrize("reply, why", [
    ("", "empty reply"),
    (None, "empty reply"),
    ("The problem is to find x.", "no <problem> block"),
    ("<problem>Find x.", r"1 <problem> tag\(s\) but 0"),
    ("<problem>  </problem>", "empty <problem> block"),
    ("<problem>A</problem><no_problem/>", "both"),
    ("<problem>A<problem>B</problem></problem>", "nested"),
    ("</problem>A<problem>", "unclosed"),
])
def test_problems_malformed(reply, why):
    with pytest.raises(Unreadable, match=why):
        parse_problems(reply)


def test_final_answer():
    assert parse_final_answer("Final answer: \\boxed{\\frac{1}{2}}") == "\\frac{1}{2}"
    assert parse_final_answer("thinking...\n**Final answer:** $\\boxed{\\{1, 2\\}}$.") == "\\{1, 2\\}"
    assert parse_final_answer("Final answer: none") is None
    assert parse_final_answer("Final Answer: None.") is None
    assert parse_final_answer("Final answer: \\boxed{3}\nFinal answer: \\boxed{3}") == "3"


@pytest.mark.parametrize("reply, why", [
    ("", "empty reply"),
    ("The answer is 3.", "no 'Final answer:' line"),
    ("Final answer: 3", "neither"),
    ("Final answer: \\boxed{3", "unbalanced"),
    ("Final answer: \\boxed{}", "empty"),
    ("Final answer: \\boxed{3}\nFinal answer: \\boxed{4}", "2 different final answers"),
    ("Final answer: \\boxed{3}\nFinal answer: none", "2 different final answers"),
])
def test_final_answer_malformed(reply, why):
    with pytest.raises(Unreadable, match=why):
        parse_final_answer(reply)


def test_yes_no():
    assert parse_yes_no("Judgement: yes") is True
    assert parse_yes_no("**Judgment:** no") is False
    for bad in ("", "yes", "Judgement: maybe", "Judgement: yes\nJudgement: no"):
        with pytest.raises(Unreadable, match="Judgement"):
            parse_yes_no(bad)


def test_prompts_are_versioned_files_with_fingerprints():
    text = prompts.render("extract_problems", post="Find $x$.", title="")
    assert "Find $x$." in text and "<no_problem/>" in text and "{post}" not in text
    fp = prompts.fingerprint("extract_problems", "extract_answer", "classify_proof")
    assert sorted(fp) == ["classify_proof.txt", "extract_answer.v1.txt", "extract_problems.v1.txt"]
    assert all(len(v) == 16 for v in fp.values())
    assert prompts.load("extract_answer.v1") == prompts.load("extract_answer")
    with pytest.raises(FileNotFoundError, match="no prompt 'nope'"):
        prompts.load("nope")
