"""Training and evaluation traces read back by openai-harmony's own parser (HARMONY_GPT_OSS encoding,
``parse_messages_from_completion_tokens`` over the whole rendered text): every message's role, tool name,
channel, recipient, content type and text come back as written. The teacher's loop keeps the paper's
protocol strings (arXiv:2512.15489, tool-integrated generation); what is trained on and what a student is
evaluated with are harmony that the library parses.
"""
from __future__ import annotations

import pytest

oh = pytest.importorskip("openai_harmony")

from nmframe.harmony import render_problem_prompt  # noqa: E402
from nmframe.harmony.encoding import load_harmony_encoding  # noqa: E402
from nmframe.harmony.transcript import TirTranscript  # noqa: E402
from nmframe.sft.format import TraceRecord, render_harmony  # noqa: E402

PROBLEM = "What is 6*7?"
PAPER_CODE_START = "<|start|>assistant<|channel|>analysis to=python code<|message|>"
PAPER_TOOL_OUTPUT = "<|start|>python code to=assistant<|channel|>analysis<|message|>"
# (role, tool name, channel, recipient, content type, text) after the prompt, for the TIR traces below
TIR_MESSAGES = [
    ("assistant", None, "analysis", None, None, "Compute it."),
    ("assistant", None, "analysis", "python", "code", "x = 6*7\nprint(x)"),
    ("tool", "python", "analysis", "assistant", None, "42\n"),
    ("assistant", None, "analysis", "python", "code", "print(x + 1)"),
    ("tool", "python", "analysis", "assistant", None, "43\n"),
    ("assistant", None, "analysis", None, None, "So 42."),
    ("assistant", None, "final", None, None, "\\boxed{42}"),
]


@pytest.fixture(scope="module")
def enc():
    return load_harmony_encoding()


def parsed(enc, text: str) -> list[tuple]:
    """openai-harmony's reading of a whole rendered text (prompt and completion)."""
    toks = enc.encode(text, allowed_special="all")
    return [(m.author.role.value, m.author.name, m.channel, m.recipient, m.content_type,
             "".join(getattr(c, "text", "") for c in m.content))
            for m in enc.parse_messages_from_completion_tokens(toks)]


def check_prompt(messages: list[tuple], effort: str, tir: bool) -> list[tuple]:
    """The system and user turns of a rendered prompt; returns the messages after them."""
    system, user, *rest = messages
    assert system[0] == "system" and f"Reasoning: {effort}" in system[5]
    assert ("## python" in system[5]) is tir and (not tir or "time out after 10.0 seconds" in system[5])
    assert user[0] == "user" and user[5] == (f"{PROBLEM}\nPlease reason step by step, and put your final answer "
                                             "within \\boxed{}.")
    return rest


def tool_loop(header: str) -> str:
    """The completion of the tool loop (nmframe.harmony.transcript) with the engine stopping at <|call|>
    and <|return|> and dropping the stop string, as vLLM does: two Python calls, then the answer."""
    t = TirTranscript(render_problem_prompt(PROBLEM, "high", with_python_tool=True, tool_timeout_s=10), header)
    assert t.append_model_text("<|channel|>analysis<|message|>Compute it.<|end|>" + PAPER_CODE_START
                               + "x = 6*7\nprint(x)", stopped_on="<|call|>") == "x = 6*7\nprint(x)"
    t.append_tool_output("42\n")
    assert t.append_model_text("<|channel|>analysis to=python code<|message|>print(x + 1)",
                               stopped_on="<|call|>") == "print(x + 1)"
    t.append_tool_output("43\n")
    t.append_model_text("<|channel|>analysis<|message|>So 42.<|end|><|start|>assistant<|channel|>final<|message|>"
                        "\\boxed{42}", stopped_on="<|return|>")
    return t.completion_text()


def test_generated_tir_trace_keeps_the_papers_strings_and_trains_as_parsable_harmony(enc):
    completion = tool_loop("paper")
    assert PAPER_CODE_START in completion and completion.count(PAPER_TOOL_OUTPUT) == 2  # the paper's protocol
    text, _ = render_harmony(TraceRecord("p", PROBLEM, "high", True, 0, completion, None), tool_timeout_s=10)
    assert check_prompt(parsed(enc, text), "high", True) == TIR_MESSAGES


def test_released_tir_messages_train_as_parsable_harmony(enc):
    call = lambda i, code: {"id": f"call_{i}", "type": "function",  # noqa: E731
                            "function": {"name": "stateful_python_code_exec", "arguments": f'{{"code": "{code}"}}'}}
    messages = [
        {"role": "assistant", "content": "", "reasoning_content": "Compute it.",
         "tool_calls": [call(0, "x = 6*7\\nprint(x)")]},
        {"role": "tool", "content": "42\n", "tool_call_id": "call_0"},
        {"role": "assistant", "content": "", "tool_calls": [call(1, "print(x + 1)")]},
        {"role": "tool", "content": "43\n", "tool_call_id": "call_1"},
        {"role": "assistant", "content": "\\boxed{42}", "reasoning_content": "So 42.", "tool_calls": []},
    ]
    text, _ = render_harmony(TraceRecord("p", PROBLEM, "high", True, 0, None, messages), tool_timeout_s=10)
    assert check_prompt(parsed(enc, text), "high", True) == TIR_MESSAGES


@pytest.mark.parametrize("effort", ["high", "medium", "low"])
def test_trace_without_tool_trains_as_parsable_harmony(enc, effort):
    completion = "<|channel|>analysis<|message|>6 times 7.<|end|><|start|>assistant<|channel|>final<|message|>42"
    text, _ = render_harmony(TraceRecord("p", PROBLEM, effort, False, 0, completion, None))
    assert check_prompt(parsed(enc, text), effort, False) == [
        ("assistant", None, "analysis", None, None, "6 times 7."),
        ("assistant", None, "final", None, None, "42")]


def test_students_evaluation_trace_reads_back(enc):
    prompt = render_problem_prompt(PROBLEM, "high", with_python_tool=True, tool_timeout_s=10)
    completion = tool_loop("harmony")  # evaluate's loop for a student (nmframe.steps.evaluate: tool_header)
    assert PAPER_TOOL_OUTPUT not in completion
    assert check_prompt(parsed(enc, prompt + completion), "high", True) == TIR_MESSAGES


def test_the_papers_tool_output_header_is_what_the_parser_rejects(enc):
    """Why training and a student's evaluation convert the header: the library refuses the paper's."""
    with pytest.raises(Exception, match="unexpected tokens remaining in message header"):
        parsed(enc, render_problem_prompt(PROBLEM, "high", with_python_tool=True, tool_timeout_s=10)
               + tool_loop("paper"))
