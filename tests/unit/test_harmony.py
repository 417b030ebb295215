"""Tests for nmframe.harmony: offline encoding, prompts, parsing, round trips, TIR transcript."""
from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import textwrap

import pytest

from nmframe.harmony import (
    CODE_END,
    CODE_START,
    STOP_STRING,
    TOOL_OUTPUT_END,
    TOOL_OUTPUT_START,
    TirTranscript,
    count_teacher_tokens,
    encode_teacher_text,
    load_harmony_encoding,
    parse_completion,
    parse_conversation,
    render_problem_prompt,
    render_prompt,
    render_prompt_tokens,
    render_tool_output,
    user_prompt,
)
from nmframe.harmony import encoding as henc

oh = pytest.importorskip("openai_harmony")
from openai_harmony import (  # noqa: E402
    Author,
    Conversation,
    DeveloperContent,
    Message,
    ReasoningEffort,
    RenderConversationConfig,
    Role,
    SystemContent,
)


@pytest.fixture(scope="module")
def enc():
    return load_harmony_encoding()


# --------------------------------------------------------------------------- encoding


def test_offline_load_with_fresh_cache_and_no_network(tmp_path):
    """A new process, an empty cache, no TIKTOKEN_ENCODINGS_BASE and a dead proxy still loads."""
    script = textwrap.dedent(
        """
        import json, os
        from nmframe.harmony import ensure_offline_encodings, load_harmony_encoding, count_teacher_tokens
        folder = ensure_offline_encodings()
        enc = load_harmony_encoding()
        print(json.dumps({"folder": str(folder), "env": os.environ["TIKTOKEN_ENCODINGS_BASE"],
                          "ids": enc.encode("hello world"), "n": count_teacher_tokens("hello world")}))
        """
    )
    env = {k: v for k, v in os.environ.items()
           if k not in ("TIKTOKEN_ENCODINGS_BASE", "NO_PROXY", "no_proxy")}
    dead = "http://127.0.0.1:9"
    env.update(NMFRAME_CACHE=str(tmp_path / "cache"), TIKTOKEN_RS_CACHE_DIR=str(tmp_path / "rs-cache"),
               HTTP_PROXY=dead, HTTPS_PROXY=dead, ALL_PROXY=dead, http_proxy=dead, https_proxy=dead,
               all_proxy=dead)
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    folder = tmp_path / "cache" / "tiktoken"
    assert got == {"folder": str(folder.resolve()), "env": str(folder.resolve()), "ids": [24912, 2375], "n": 2}
    vocab = folder / "o200k_base.tiktoken"
    assert hashlib.sha256(vocab.read_bytes()).hexdigest() == henc.O200K_SHA256
    assert not (tmp_path / "rs-cache").exists() or not any((tmp_path / "rs-cache").iterdir())


def test_ensure_offline_encodings_is_atomic_idempotent_and_repairs(tmp_path, monkeypatch):
    monkeypatch.setenv("TIKTOKEN_ENCODINGS_BASE", "/somewhere/else")
    folder = henc.ensure_offline_encodings(tmp_path / "c")
    vocab = folder / henc.O200K_FILENAME
    assert vocab.is_file() and os.environ["TIKTOKEN_ENCODINGS_BASE"] == "/somewhere/else"  # respected
    assert sorted(p.name for p in folder.iterdir()) == [henc.O200K_FILENAME]  # no temp file left
    mtime = vocab.stat().st_mtime_ns
    henc._VERIFIED.clear()
    henc.ensure_offline_encodings(tmp_path / "c")
    assert vocab.stat().st_mtime_ns == mtime  # intact file is not rewritten

    vocab.write_bytes(b"truncated")
    henc._VERIFIED.clear()
    henc.ensure_offline_encodings(tmp_path / "c")
    assert hashlib.sha256(vocab.read_bytes()).hexdigest() == henc.O200K_SHA256

    monkeypatch.delenv("TIKTOKEN_ENCODINGS_BASE")
    henc.ensure_offline_encodings(tmp_path / "c")
    assert os.environ["TIKTOKEN_ENCODINGS_BASE"] == str(folder)


def test_default_cache_dir_honours_env(tmp_path, monkeypatch):
    monkeypatch.setenv("NMFRAME_CACHE", str(tmp_path))
    assert henc.default_cache_dir() == tmp_path / "tiktoken"
    monkeypatch.delenv("NMFRAME_CACHE")
    assert henc.default_cache_dir().parts[-3:] == (".cache", "nmframe", "tiktoken")


def test_token_counts_of_known_strings(enc):
    assert load_harmony_encoding() is enc  # cached
    assert enc.encode("hello world") == [24912, 2375]
    assert count_teacher_tokens("hello world") == 2
    assert count_teacher_tokens("") == 0
    assert count_teacher_tokens("<|start|>assistant<|channel|>final<|message|>") == 5
    assert encode_teacher_text("<|start|>") == [200006]
    assert encode_teacher_text(CODE_END) == [200012]
    assert count_teacher_tokens([1, 2, 3]) == 3
    prompt = render_problem_prompt("What is 1+1?", "high", True)
    assert count_teacher_tokens(prompt) == len(render_prompt_tokens(user_prompt("What is 1+1?"), "high", True))


# --------------------------------------------------------------------------- rendering

LOW_NO_TOOL = (
    "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\n"
    "Knowledge cutoff: 2024-06\n\nReasoning: low\n\n"
    "# Valid channels: analysis, commentary, final. Channel must be included for every message.<|end|>"
    "<|start|>user<|message|>What is 1+1?\n"
    "Please reason step by step, and put your final answer within \\boxed{}.<|end|><|start|>assistant"
)


def test_user_prompt_format():
    assert user_prompt("Find x.") == (
        "Find x.\nPlease reason step by step, and put your final answer within \\boxed{}."
    )


def test_render_prompt_exact_without_tool():
    assert render_problem_prompt("What is 1+1?", "low", False) == LOW_NO_TOOL
    assert render_prompt(user_prompt("What is 1+1?"), "LOW", with_python_tool=False) == LOW_NO_TOOL


@pytest.mark.parametrize("effort", ["high", "medium", "low"])
@pytest.mark.parametrize("tool", [True, False])
def test_render_prompt_structure(effort, tool):
    text = render_problem_prompt("Compute 2^10.", effort, tool)
    assert text.startswith("<|start|>system<|message|>")
    assert f"\nReasoning: {effort}\n" in text
    assert text.endswith("Compute 2^10.\nPlease reason step by step, and put your final answer within "
                         "\\boxed{}.<|end|><|start|>assistant")
    assert text.count("<|start|>") == 3
    assert ("# Tools\n\n## python\n\nUse this tool to execute Python code" in text) is tool
    assert ("stateful Jupyter notebook environment" in text) is tool


def test_render_prompt_equals_library_rendering(enc):
    system = SystemContent.new().with_reasoning_effort(ReasoningEffort.MEDIUM).with_python_tool()
    conv = Conversation.from_messages([
        Message.from_role_and_content(Role.SYSTEM, system),
        Message.from_role_and_content(Role.DEVELOPER, DeveloperContent.new().with_instructions("Be brief.")),
        Message.from_role_and_content(Role.USER, "Q?"),
    ])
    tokens = enc.render_conversation_for_completion(conv, Role.ASSISTANT)
    ours = render_prompt_tokens("Q?", "medium", True, developer_instructions="Be brief.")
    assert ours == tokens
    text = render_prompt("Q?", "medium", True, developer_instructions="Be brief.")
    assert text == enc.decode_utf8(tokens)
    assert "<|start|>developer<|message|># Instructions\n\nBe brief.<|end|>" in text
    assert encode_teacher_text(text) == tokens


def test_render_prompt_from_chat_messages():
    text = render_prompt([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Q?"}],
                         "high", False)
    assert text == render_prompt("Q?", "high", False, developer_instructions="Be brief.")
    assert render_prompt([{"role": "user", "content": "Q?"}], "high") == render_prompt("Q?", "high")


def test_render_prompt_options_and_errors():
    text = render_prompt("Q?", "high", True, conversation_start_date="2025-08-01",
                         python_tool_description="Runs Python. Times out after 10 seconds.")
    assert "Current date: 2025-08-01" in text
    assert "## python\n\nRuns Python. Times out after 10 seconds." in text
    with pytest.raises(ValueError):
        render_prompt("Q?", "extreme", False)
    with pytest.raises(ValueError):
        render_prompt([{"role": "system", "content": "x"}], "high")
    with pytest.raises(ValueError):
        render_prompt([{"role": "tool", "content": "x"}, {"role": "user", "content": "q"}], "high")


def test_tool_protocol_strings(enc):
    assert CODE_START == "<|start|>assistant<|channel|>analysis to=python code<|message|>"
    assert CODE_END == STOP_STRING == "<|call|>"
    assert render_tool_output("4\n") == (
        "<|start|>python code to=assistant<|channel|>analysis<|message|>4\n<|end|><|start|>assistant"
    )
    assert render_tool_output("x") == TOOL_OUTPUT_START + "x" + TOOL_OUTPUT_END
    # openai-harmony spells the same message without "code" and without the next turn's start.
    lib = Message.from_author_and_content(Author.new(Role.TOOL, "python"), "4\n") \
        .with_channel("analysis").with_recipient("assistant")
    assert enc.decode_utf8(enc.render(lib)) == "<|start|>python to=assistant<|channel|>analysis<|message|>4\n<|end|>"


# --------------------------------------------------------------------------- parsing

WELL_FORMED = [
    "<|channel|>analysis<|message|>Think.<|end|><|start|>assistant<|channel|>final<|message|>\\boxed{2}<|return|>",
    "<|channel|>analysis<|message|>Let me compute.<|end|><|start|>assistant<|channel|>analysis to=python code"
    "<|message|>print(1+1)<|call|><|start|>python to=assistant<|channel|>analysis<|message|>2\n<|end|>"
    "<|start|>assistant<|channel|>final<|message|>The answer is \\boxed{2}.<|end|>",
    "<|channel|>analysis<|message|>a<|end|><|start|>assistant to=python<|channel|>analysis code<|message|>x=1"
    "<|call|><|start|>python to=assistant<|channel|>analysis<|message|><|end|>"
    "<|start|>assistant<|channel|>final<|message|>done",
    "<|channel|>commentary to=functions.f <|constrain|>json<|message|>{\"a\": 1}<|call|>",
    "<|channel|>final<|message|>Only an answer: $\\frac{1}{2}$ ünïcødé ∑<|return|>",
    "<|channel|>analysis to=python code<|message|>import math\nprint(math.pi)<|call|>",
]


@pytest.mark.parametrize("text", WELL_FORMED)
def test_parser_agrees_with_openai_harmony(enc, text):
    tokens = enc.encode(text, allowed_special="all")
    lib = enc.parse_messages_from_completion_tokens(tokens, Role.ASSISTANT)
    expected = [(m.author.role.value, m.author.name, m.channel, m.recipient, m.content_type,
                 "".join(c.text for c in m.content)) for m in lib]
    trace = parse_completion(text)
    assert [m.key() for m in trace.messages] == expected
    ends_open = not text.endswith(("<|end|>", "<|call|>", "<|return|>"))
    assert [e.reason for e in trace.errors] == (["truncated: message has no end token"] if ends_open else [])


def test_parser_reads_the_protocol_tool_output_header_that_harmony_rejects(enc):
    text = ("<|channel|>analysis<|message|>Check.<|end|>" + CODE_START + "print(6*7)" + CODE_END
            + render_tool_output("42\n") + "<|channel|>analysis<|message|>Good.<|end|>"
            "<|start|>assistant<|channel|>final<|message|>So \\boxed{42}.<|return|>")
    with pytest.raises(Exception, match="code"):
        enc.parse_messages_from_completion_tokens(enc.encode(text, allowed_special="all"), Role.ASSISTANT)
    trace = parse_completion(text)
    assert trace.ok, trace.errors
    assert [(m.role, m.name, m.channel, m.recipient, m.content_type) for m in trace.messages] == [
        ("assistant", None, "analysis", None, None),
        ("assistant", None, "analysis", "python", "code"),
        ("tool", "python", "analysis", "assistant", "code"),
        ("assistant", None, "analysis", None, None),
        ("assistant", None, "final", None, None),
    ]
    assert trace.final_text == "So \\boxed{42}."
    assert trace.analysis_text == "Check.\nGood."
    assert trace.tool_calls == ["print(6*7)"] and trace.num_tool_calls == 1
    assert trace.tool_outputs == ["42\n"]
    assert trace.finished
    assert [m.end_token for m in trace.messages] == ["<|end|>", "<|call|>", "<|end|>", "<|end|>", "<|return|>"]
    assert text[trace.messages[1].start:].startswith(CODE_START)


def test_to_messages_shape():
    text = ("<|channel|>analysis<|message|>A<|end|><|start|>assistant<|channel|>analysis<|message|>B<|end|>"
            + CODE_START + "print('é')" + CODE_END + render_tool_output("é")
            + "<|channel|>final<|message|>\\boxed{1}<|return|>")
    msgs = parse_completion(text).to_messages(user_content=user_prompt("P"))
    assert msgs == [
        {"role": "user", "content": user_prompt("P")},
        {"role": "assistant", "content": "", "reasoning_content": "A\nB",
         "tool_calls": [{"id": "call_0", "type": "function",
                         "function": {"name": "stateful_python_code_exec",
                                      "arguments": json.dumps({"code": "print('é')"}, ensure_ascii=False)}}]},
        {"role": "tool", "content": "é", "tool_call_id": "call_0", "name": "stateful_python_code_exec"},
        {"role": "assistant", "content": "\\boxed{1}", "reasoning_content": "", "tool_calls": []},
    ]
    # a cut-off trace keeps its reasoning in a last assistant turn with empty content
    cut = parse_completion("<|channel|>analysis<|message|>thinking for ever").to_messages()
    assert cut == [{"role": "assistant", "content": "", "reasoning_content": "thinking for ever",
                    "tool_calls": []}]


MALFORMED = {
    "truncated at max tokens": (
        "<|channel|>analysis<|message|>Let me think about", ["truncated: message has no end token"]),
    "misspelt channel": (
        "<|channel|>anal<|message|>x<|end|><|start|>assistant<|channel|>final<|message|>1<|end|>",
        ["unknown channel 'anal'"]),
    "header without <|message|>": (
        "<|channel|>analysis Let me think<|end|><|start|>assistant<|channel|>final<|message|>1<|end|>",
        ["unexpected words in header", "message header not followed by <|message|>"]),
    "garbage between messages": (
        "<|channel|>analysis<|message|>a<|end|>junk<|start|>assistant<|channel|>final<|message|>1<|end|>",
        ["unexpected text between messages"]),
    "truncated in header": ("<|channel|>analysis<|message|>a<|end|><|start|>assistant<|channel|>fin",
                            ["unknown channel 'fin'", "truncated inside a message header"]),
    "message not closed before <|start|>": (
        "<|channel|>analysis<|message|>a<|start|>assistant<|channel|>final<|message|>1<|end|>",
        ["message not closed before <|start|>"]),
    "missing <|end|><|start|>assistant": (
        "<|channel|>analysis<|message|>a<|channel|>final<|message|>1<|end|>",
        ["message not closed before <|channel|>"]),
    "stray <|message|> in content": (
        "<|channel|>analysis<|message|>a<|message|>b<|end|>", ["stray <|message|> inside message content"]),
    "<|call|> without recipient": (
        "<|channel|>analysis<|message|>print(1)<|call|>", ["<|call|> ends a message that has no recipient"]),
    "text after the end": (
        "<|channel|>final<|message|>1<|return|>trailing", ["text outside any message"]),
    "assistant without channel": (
        "<|start|>assistant<|message|>hi<|end|>", ["assistant message without a channel"]),
    "missing role": ("<|start|> to=python<|channel|>analysis<|message|>x<|call|>",
                     ["message header has no role"]),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_inputs_are_recorded_not_raised(name):
    text, reasons = MALFORMED[name]
    trace = parse_completion(text, initial_role=None if text.startswith("<|start|>") else "assistant")
    assert trace.errors, name
    got = [e.reason for e in trace.errors]
    for reason in reasons:
        assert any(g.startswith(reason) for g in got), (reason, got)
    assert trace.messages  # the partial message is kept
    for err in trace.errors:
        assert 0 <= err.position <= len(text)
        assert err.snippet == text[err.position:err.position + 60]


def test_malformed_keeps_partial_content():
    trace = parse_completion("<|channel|>analysis<|message|>Let me think about")
    assert trace.messages[0].content == "Let me think about" and not trace.messages[0].complete
    assert trace.final_text is None and not trace.finished
    trace = parse_completion(MALFORMED["header without <|message|>"][0])
    assert trace.messages[0].channel == "analysis" and trace.messages[0].content == "Let me think"
    assert trace.final_text == "1"
    trace = parse_completion(MALFORMED["missing <|end|><|start|>assistant"][0])
    assert [(m.channel, m.content) for m in trace.messages] == [("analysis", "a"), ("final", "1")]
    assert trace.messages[1].role == "assistant"


def test_parser_never_raises_on_mangled_text():
    base = WELL_FORMED[1] + render_tool_output("out") + WELL_FORMED[0]
    pieces = ["<|start|>", "<|end|>", "<|message|>", "<|channel|>", "<|call|>", "<|return|>",
              "<|constrain|>", " to=", "assistant", "python", "analysis", "final", "x", "\n", " "]
    rng = random.Random(0)
    for _ in range(400):
        text = base
        for _ in range(rng.randint(1, 4)):
            i = rng.randint(0, len(text))
            op = rng.random()
            if op < 0.4:
                text = text[:i] + rng.choice(pieces) + text[i:]
            elif op < 0.8:
                text = text[:i] + text[i + rng.randint(1, 12):]
            else:
                text = text[:i]
        for role in ("assistant", None):
            trace = parse_completion(text, initial_role=role)
            assert isinstance(trace.errors, list)
            trace.to_messages()
    assert parse_completion("").messages == [] and parse_completion("").ok


# --------------------------------------------------------------------------- round trips


def _conversation():
    system = SystemContent.new().with_reasoning_effort(ReasoningEffort.HIGH).with_python_tool()
    return [
        Message.from_role_and_content(Role.SYSTEM, system),
        Message.from_role_and_content(Role.USER, user_prompt("What is 17*23?")),
        Message.from_role_and_content(Role.ASSISTANT, "Multiply; check with Python.").with_channel("analysis"),
        Message.from_role_and_content(Role.ASSISTANT, "print(17*23)").with_channel("analysis")
        .with_recipient("python").with_content_type("code"),
        Message.from_author_and_content(Author.new(Role.TOOL, "python"), "391\n").with_channel("analysis")
        .with_recipient("assistant"),
        Message.from_role_and_content(Role.ASSISTANT, "So 391.").with_channel("analysis"),
        Message.from_role_and_content(Role.ASSISTANT, "The product is \\boxed{391}.").with_channel("final"),
    ]


def _key(m):
    return (m.author.role.value, m.author.name, m.channel, m.recipient, m.content_type,
            "".join(getattr(c, "text", "") for c in m.content))


def test_round_trip_whole_conversation(enc):
    msgs = _conversation()
    tokens = enc.render_conversation(Conversation.from_messages(msgs),
                                     RenderConversationConfig(auto_drop_analysis=False))
    text = enc.decode_utf8(tokens)
    assert count_teacher_tokens(text) == len(tokens)
    assert encode_teacher_text(text) == tokens
    trace = parse_conversation(text)
    assert trace.ok, trace.errors
    assert trace.messages[0].role == "system" and "Reasoning: high" in trace.messages[0].content
    assert [m.key() for m in trace.messages[1:]] == [_key(m) for m in msgs[1:]]
    assert trace.final_text == "The product is \\boxed{391}."
    assert trace.tool_calls == ["print(17*23)"]


def test_round_trip_prompt_plus_completion(enc):
    msgs = _conversation()
    prompt_tokens = enc.render_conversation_for_completion(Conversation.from_messages(msgs[:2]), Role.ASSISTANT)
    full_tokens = enc.render_conversation(Conversation.from_messages(msgs),
                                          RenderConversationConfig(auto_drop_analysis=False))
    assert full_tokens[:len(prompt_tokens) - 2] == prompt_tokens[:-2]  # prompt ends <|start|>assistant
    prompt = render_problem_prompt("What is 17*23?", "high", True)
    assert prompt == enc.decode_utf8(prompt_tokens)
    completion = enc.decode_utf8(full_tokens)[len(prompt):]
    trace = parse_completion(completion)
    assert trace.ok, trace.errors
    assert [m.key() for m in trace.messages] == [_key(m) for m in msgs[2:]]
    lib = enc.parse_messages_from_completion_tokens(full_tokens[len(prompt_tokens):], Role.ASSISTANT)
    assert [m.key() for m in trace.messages] == [_key(m) for m in lib]
    assert count_teacher_tokens(prompt) + count_teacher_tokens(completion) == len(full_tokens)


# --------------------------------------------------------------------------- TIR transcript


@pytest.mark.parametrize("engine_keeps_stop", [False, True])
def test_transcript_tool_loop(engine_keeps_stop):
    prompt = render_problem_prompt("What is 2**100 mod 7?", "low", True)
    t = TirTranscript(prompt)
    chunk = "<|channel|>analysis<|message|>Use Python.<|end|>" + CODE_START + "print(pow(2, 100, 7))"
    code = t.append_model_text(chunk + (CODE_END if engine_keeps_stop else ""), stopped_on_call=True)
    assert code == t.pending_code() == "print(pow(2, 100, 7))"
    with pytest.raises(RuntimeError):
        t.append_model_text("more")
    t.append_tool_output("2\n")
    assert t.pending_code() is None
    assert t.append_model_text("<|channel|>final<|message|>\\boxed{2}", stopped_on="<|return|>") is None
    expected = (chunk + "<|call|><|start|>python code to=assistant<|channel|>analysis<|message|>2\n<|end|>"
                "<|start|>assistant<|channel|>final<|message|>\\boxed{2}<|return|>")
    assert t.completion_text() == expected
    assert t.full_text() == prompt + expected
    assert (t.num_tool_calls, t.num_tool_outputs, t.num_model_chunks) == (1, 1, 2)
    trace = t.parse()
    assert trace.ok and trace.finished and trace.final_text == "\\boxed{2}"
    assert trace.tool_calls == ["print(pow(2, 100, 7))"]


def test_transcript_first_message_call_and_library_spelling():
    t = TirTranscript(render_problem_prompt("Q", "high", True))
    assert t.append_model_text("<|channel|>analysis to=python code<|message|>x = 1", True) == "x = 1"
    t.append_tool_output("")
    code = t.append_model_text("<|channel|>analysis<|message|>next<|end|><|start|>assistant to=python"
                               "<|channel|>analysis code<|message|>print(x)<|call|>")  # kept stop string
    assert code == "print(x)" and t.num_tool_calls == 2
    t.append_tool_output("1")
    t.append_model_text("<|channel|>final<|message|>1")  # token budget ran out: left open
    trace = t.parse()
    assert trace.tool_calls == ["x = 1", "print(x)"] and trace.tool_outputs == ["", "1"]
    assert not trace.finished and [e.reason for e in trace.errors] == ["truncated: message has no end token"]


def test_transcript_protocol_errors():
    with pytest.raises(ValueError):
        TirTranscript("<|start|>user<|message|>q<|end|>")
    t = TirTranscript(render_problem_prompt("Q", "high", True))
    with pytest.raises(RuntimeError):
        t.append_tool_output("x")
    assert t.append_model_text("<|channel|>analysis<|message|>print(1)", stopped_on_call=True) is None
    assert t.issues and t.num_tool_calls == 0
    with pytest.raises(ValueError):
        t.append_model_text("x", stopped_on_call=True, stopped_on="<|end|>")
    with pytest.raises(ValueError):
        t.append_model_text("x", stopped_on="<|start|>")


def test_the_python_tool_declaration_states_the_configured_timeout():
    from nmframe.harmony import render_problem_prompt

    stock = render_problem_prompt("What is 1+1?", "high", with_python_tool=True)
    ours = render_problem_prompt("What is 1+1?", "high", with_python_tool=True, tool_timeout_s=10)
    assert "time out after 120.0 seconds" in stock  # openai-harmony's own text
    assert "time out after 10.0 seconds" in ours and "120.0" not in ours
    # nothing else changes: the prompt is openai-harmony's with the one number replaced
    assert ours == stock.replace("time out after 120.0 seconds", "time out after 10.0 seconds")
    assert render_problem_prompt("What is 1+1?", "high", tool_timeout_s=10) == \
        render_problem_prompt("What is 1+1?", "high")  # no tool, no declaration


def _parse_with_openai_harmony(completion: str):
    from openai_harmony import Role

    from nmframe.harmony.encoding import load_harmony_encoding

    enc = load_harmony_encoding()
    toks = enc.encode(completion, allowed_special="all")
    return [(m.author.role.value, m.author.name, m.channel, m.recipient, m.content[0].text)
            for m in enc.parse_messages_from_completion_tokens(toks, role=Role.ASSISTANT)]


TIR_MESSAGES = [
    {"role": "user", "content": "What is 6*7?"},
    {"role": "assistant", "content": "", "reasoning_content": "Let me compute.",
     "tool_calls": [{"id": "call_0", "type": "function",
                     "function": {"name": "stateful_python_code_exec", "arguments": '{"code": "print(6*7)"}'}}]},
    {"role": "tool", "content": "42\n", "tool_call_id": "call_0", "name": "stateful_python_code_exec"},
    {"role": "assistant", "content": "\\boxed{42}", "reasoning_content": "So 42.", "tool_calls": []},
]


def test_training_traces_read_back_with_openai_harmonys_parser():
    from nmframe.sft.format import TraceRecord, render_harmony

    rec = TraceRecord(problem_id="p", problem="What is 6*7?", mode="high", tir=True, seed=0,
                      completion=None, messages=TIR_MESSAGES[1:])
    text, _ = render_harmony(rec, tool_timeout_s=10)
    prompt_end = text.index("What is 6*7?")
    completion = text[text.index("<|start|>assistant", prompt_end) + len("<|start|>assistant"):]
    assert _parse_with_openai_harmony(completion) == [
        ("assistant", None, "analysis", None, "Let me compute."),
        ("assistant", None, "analysis", "python", "print(6*7)"),
        ("tool", "python", "analysis", "assistant", "42\n"),
        ("assistant", None, "analysis", None, "So 42."),
        ("assistant", None, "final", None, "\\boxed{42}"),
    ]


def test_the_teachers_loop_keeps_the_papers_header_and_a_students_loop_reads_back():
    from nmframe.harmony import render_problem_prompt
    from nmframe.harmony.transcript import TirTranscript

    prompt = render_problem_prompt("What is 6*7?", "high", with_python_tool=True, tool_timeout_s=10)
    for header, parsable in (("paper", False), ("harmony", True)):
        t = TirTranscript(prompt, header)
        assert t.append_model_text("<|channel|>analysis to=python code<|message|>print(6*7)",
                                   stopped_on="<|call|>") == "print(6*7)"
        t.append_tool_output("42\n")
        t.append_model_text("<|channel|>final<|message|>\\boxed{42}", stopped_on="<|return|>")
        completion = t.completion_text()
        if header == "paper":
            assert "<|start|>python code to=assistant<|channel|>analysis<|message|>42" in completion
            with pytest.raises(Exception, match="unexpected tokens remaining in message header"):
                _parse_with_openai_harmony(completion)
        else:
            assert _parse_with_openai_harmony(completion)[1] == ("tool", "python", "analysis", "assistant", "42\n")
