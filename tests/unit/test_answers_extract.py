"""Final-answer extraction: last box of the final answer only, None when there is none."""
import pytest

from nmframe.answers import extract_answer

FINAL = "<|start|>assistant<|channel|>final<|message|>"
ANALYSIS = "<|start|>assistant<|channel|>analysis<|message|>"


@pytest.mark.parametrize(
    "text, expected",
    [
        (r"The answer is \boxed{5}.", "5"),
        (r"\boxed{\frac{1}{2}}", r"\frac{1}{2}"),
        (r"so \boxed{\frac{\sqrt{3}}{2}} done", r"\frac{\sqrt{3}}{2}"),
        (r"\boxed{{1,2}}", "{1,2}"),
        (r"\boxed{\{1,2\}}", r"\{1,2\}"),
        (r"\boxed{\left\{ x \right\}}", r"\left\{ x \right\}"),
        (r"first \boxed{3} then \boxed{4}", "4"),
        (r"\boxed{1} \fbox{2}", "2"),
        (r"\fbox{7}", "7"),
        (r"\boxed {8}", "8"),
        (r"\boxed  { 9 }", "9"),
        (r"\boxed{\boxed{6}}", r"\boxed{6}"),
        (r"\boxed{  }", None),
        (r"\boxed{}", None),
        ("no box at all: 42", None),
        ("", None),
        (r"\boxed{5", None),
        (r"\boxed{1} and then \boxed{2", None),
        (r"\boxed{\frac{1}{2}", None),
        (r"\boxed{a}\}", "a"),
        (r"\boxed{x \\ y}", r"x \\ y"),
    ],
)
def test_boxed(text, expected):
    assert extract_answer(text) == expected


def test_harmony_final_channel_wins_over_analysis():
    text = ANALYSIS + r"maybe \boxed{3}<|end|>" + FINAL + r"The answer is \boxed{4}.<|return|>"
    assert extract_answer(text) == "4"


def test_harmony_box_only_in_analysis_is_no_answer():
    text = ANALYSIS + r"so it is \boxed{3}<|end|>" + FINAL + "I am not sure.<|return|>"
    assert extract_answer(text) is None


def test_harmony_analysis_only_trace_is_no_answer():
    text = ANALYSIS + r"so it is \boxed{3}<|end|>"
    assert extract_answer(text) is None


def test_harmony_uses_last_final_marker_and_stops_at_end():
    text = (FINAL + r"\boxed{1}<|end|>" + FINAL + r"\boxed{2}<|end|>"
            + ANALYSIS + r"\boxed{99}<|end|>")
    assert extract_answer(text) == "2"


def test_harmony_final_without_end_marker():
    assert extract_answer(ANALYSIS + "x<|end|>" + FINAL + r"\boxed{12}") == "12"


def test_think_tags():
    assert extract_answer(r"<think>\boxed{1}</think>Answer: \boxed{2}") == "2"
    assert extract_answer(r"<think>\boxed{1}</think>Answer: 2") is None
    assert extract_answer(r"<think>a</think><think>\boxed{1}</think>\boxed{3}") == "3"
    assert extract_answer(r"<think>still thinking \boxed{1}") is None
