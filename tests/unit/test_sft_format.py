"""Rendering traces to token ids with assistant-only loss masks (harmony and chat templates)."""
import numpy as np
import pytest

from nmframe.harmony import CODE_START, render_tool_output
from nmframe.models.tiny import build_tiny_tokenizer
from nmframe.sft.format import (SkipTrace, describe_masked, messages_to_harmony_completion, render_trace,
                                trace_record)
from nmframe.sft.store import SftData, SftWriter

TIR_COMPLETION = ("<|channel|>analysis<|message|>Let me compute.<|end|>" + CODE_START + "print(6*7)<|call|>"
                  + render_tool_output("42\n") + "<|channel|>final<|message|>The answer is \\boxed{42}.")


@pytest.fixture(scope="module")
def tok():
    return build_tiny_tokenizer(512)


def row(**kw):
    base = {"problem_id": "p1", "problem": "What is 6*7?", "mode": "high", "tir": True, "seed": 3,
            "completion": TIR_COMPLETION}
    return {**base, **kw}


def test_harmony_loss_is_on_assistant_tokens_only(tok):
    ids, mask = render_trace(trace_record(row()), "harmony", tok)
    d = describe_masked(tok, ids, mask)
    assert d["target"] == ("<|channel|>analysis<|message|>Let me compute.<|end|>" + CODE_START + "print(6*7)<|call|>"
                           "<|channel|>final<|message|>The answer is \\boxed{42}.<|return|>")
    assert "Reasoning: high" in d["context"] and "## python" in d["context"]
    # tool outputs are context (no loss), in openai-harmony's header
    assert d["context"].endswith("<|start|>python to=assistant<|channel|>analysis<|message|>42\n"
                                 "<|end|><|start|>assistant")
    assert ids.dtype == np.int32 and mask.dtype == np.uint8 and ids.shape == mask.shape


def test_harmony_without_tir_has_no_tool_declaration(tok):
    rec = trace_record(row(tir=False, mode="low", completion="<|channel|>final<|message|>\\boxed{42}<|return|>"))
    ids, mask = render_trace(rec, "harmony", tok)
    d = describe_masked(tok, ids, mask)
    assert "Reasoning: low" in d["context"] and "## python" not in d["context"]
    assert d["target"] == "<|channel|>final<|message|>\\boxed{42}<|return|>"


def test_unfinished_completion_is_skipped_or_kept_as_is(tok):
    rec = trace_record(row(completion="<|channel|>analysis<|message|>still thinking"))
    with pytest.raises(SkipTrace) as e:
        render_trace(rec, "harmony", tok)
    assert e.value.reason == "unfinished"
    ids, mask = render_trace(rec, "harmony", tok, require_finished=False)
    assert describe_masked(tok, ids, mask)["target"] == "<|channel|>analysis<|message|>still thinking"


def test_kept_flags_and_bad_rows():
    assert trace_record(row(correct=False)) is None
    assert trace_record(row(kept=False)) is None
    assert trace_record(row(correct=True)) is not None
    with pytest.raises(SkipTrace, match="bad_mode"):
        trace_record(row(mode="extreme"))
    with pytest.raises(SkipTrace, match="no_completion"):
        trace_record(row(completion=None))


def test_messages_render_to_the_same_harmony_completion():
    from nmframe.harmony import parse_completion

    msgs = parse_completion(TIR_COMPLETION + "<|return|>").to_messages(user_content="What is 6*7?")
    # the same completion, with tool outputs in openai-harmony's header (the form its parser reads back)
    assert messages_to_harmony_completion(msgs) == TIR_COMPLETION.replace(
        "<|start|>python code to=assistant", "<|start|>python to=assistant") + "<|return|>"


def test_chat_template_masks_assistant_turns(tok):
    rec = trace_record(row(tir=False, completion="<|channel|>analysis<|message|>easy<|end|>"
                                                 "<|start|>assistant<|channel|>final<|message|>\\boxed{42}"))
    ids, mask = render_trace(rec, "chat", tok)
    d = describe_masked(tok, ids, mask)
    assert d["target"] == "<think>\neasy\n</think>\n\n\\boxed{42}<|im_end|>\n"
    assert d["context"].startswith("<|im_start|>user\nWhat is 6*7?") and d["context"].endswith("<|im_start|>assistant\n")


def test_chat_template_that_drops_tool_calls_is_a_counted_skip(tok):
    # the tiny tokenizer's template renders no tool_calls: training on it would lose the code
    with pytest.raises(SkipTrace, match="template_drops_tool_calls"):
        render_trace(trace_record(row()), "chat", tok)


def test_store_round_trip(tmp_path):
    w = SftWriter(tmp_path)
    w.append(np.array([5, 6, 7]), np.array([0, 1, 1]), {"problem_id": "a", "mode": "high", "tir": True, "seed": 1})
    w.append(np.array([9, 8]), np.array([0, 1]), {"problem_id": "b", "mode": "low", "tir": False, "seed": 2})
    w.close()
    d = SftData(tmp_path)
    assert len(d) == 2 and d.lengths.tolist() == [3, 2]
    ids, m = d.sample(1)
    assert ids.tolist() == [9, 8] and m.tolist() == [0, 1]
    assert d.index["mode"].tolist() == ["high", "low"] and d.index["loss_tokens"].tolist() == [2, 1]
