"""The harmony Python-tool loop, driven by a scripted teacher and a real sandbox."""
from __future__ import annotations

import pytest

from nmframe.generation import CompletionResult, LoopSettings, SampleSpec, TirLoop
from nmframe.testing.scripted_backend import ScriptedBackend
from nmframe.harmony.protocol import CALL, CODE_START, TOOL_OUTPUT_END, TOOL_OUTPUT_START
from nmframe.sandbox import Sandbox

CALL_TURN = ("<|channel|>analysis<|message|>Let me compute.<|end|>"
             "<|start|>assistant<|channel|>analysis to=python code<|message|>x = 6 * 7\nprint(x)<|call|>")
FINAL_TURN = ("<|channel|>analysis<|message|>The tool says 42.<|end|>"
              "<|start|>assistant<|channel|>final<|message|>So the answer is \\boxed{42}.<|return|>")


def call(code: str) -> str:
    return f"<|channel|>analysis<|message|>run it<|end|><|start|>assistant<|channel|>analysis to=python code<|message|>{code}<|call|>"


def spec(pid="p1", tir=True, seed=0, problem="What is 6*7?"):
    return SampleSpec({"id": pid, "problem": problem, "expected_answer": "42", "data_source": "test"},
                      "high", tir, seed, 1000 + seed)


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(max_sessions=16) as sb:
        yield sb


def run(turns, specs, sandbox, **settings):
    backend = turns if hasattr(turns, "complete") else ScriptedBackend(turns)
    kw = dict(max_tokens=10_000, max_calls=100, output_chars=1000, call_timeout_s=10.0)
    kw.update(settings)
    loop = TirLoop(backend, LoopSettings(**kw), sandbox)
    try:
        return loop.run(specs), backend
    finally:
        loop.close()


def test_tool_call_runs_in_sandbox_and_trace_is_complete(sandbox):
    (rec,), backend = run([CALL_TURN, FINAL_TURN], [spec()], sandbox)
    expected = ("<|channel|>analysis<|message|>Let me compute.<|end|>" + CODE_START + "x = 6 * 7\nprint(x)" + CALL
                + TOOL_OUTPUT_START + "42" + TOOL_OUTPUT_END + FINAL_TURN)
    assert rec["completion"] == expected
    assert rec["num_tool_calls"] == 1 and rec["num_rounds"] == 2 and backend.calls == 2
    assert rec["sandbox"] == {"ok": 1, "error": 0, "timeout": 0, "killed": 0, "session_resets": 0}
    assert rec["final_answer"] == "42" and rec["finished"] is True
    assert rec["finish_reason"] == "stop" and rec["length_limit"] is None and rec["errors"] == []
    roles = [m["role"] for m in rec["messages"]]
    assert roles == ["user", "assistant", "tool", "assistant"]
    assert rec["messages"][1]["tool_calls"][0]["function"]["arguments"] == '{"code": "x = 6 * 7\\nprint(x)"}'
    assert rec["messages"][2]["content"] == "42"
    assert rec["messages"][3]["content"] == "So the answer is \\boxed{42}."
    assert rec["tools"] and rec["tools"][0]["function"]["name"] == "stateful_python_code_exec"
    assert rec["tokens"]["completion"] == backend.tokens(CALL_TURN[:-len(CALL)]) + backend.tokens(FINAL_TURN[:-10])
    assert rec["tokens"]["teacher_completion"] > 0 and rec["tokens"]["teacher_prompt"] > 0
    assert rec["timings"]["tool_s"] > 0 and rec["problem_id"] == "p1" and rec["seed"] == 0


def test_sessions_are_per_sample_and_keep_state(sandbox):
    def first(req, turn):
        n = 1 if req.tag.endswith("|0") else 2   # tag = session id "<problem>|<mode>|tir|<seed>"
        return call(f"v = {n}\nprint('set', v)")

    turns = [first, call("print('still', v)"), FINAL_TURN]
    recs, _ = run(turns, [spec(seed=0), spec(seed=1)], sandbox)
    outs = [[m["content"] for m in r["messages"] if m["role"] == "tool"] for r in recs]
    assert outs == [["set 1", "still 1"], ["set 2", "still 2"]]
    assert [r["num_tool_calls"] for r in recs] == [2, 2]


def test_one_backend_call_per_round_for_all_active_samples(sandbox):
    # p-short answers at once, p-long needs two tool calls: 3 rounds, 1 + 2 + 3... requests
    def t0(req, turn):
        return FINAL_TURN if "short" in req.tag else CALL_TURN

    backend = ScriptedBackend([t0, CALL_TURN, FINAL_TURN])
    recs, _ = run(backend, [spec("p-short"), spec("p-long")], sandbox)
    assert backend.calls == 3 and backend.requests == 4
    assert [r["num_tool_calls"] for r in recs] == [0, 2]


def test_max_calls_limit(sandbox):
    (rec,), backend = run([call("print(1)")], [spec()], sandbox, max_calls=3)
    assert rec["num_tool_calls"] == 3 and rec["sandbox"]["ok"] == 3
    assert rec["finish_reason"] == "length" and rec["length_limit"] == "max_calls"
    assert rec["completion"].count(CALL) == 4 and rec["completion"].endswith(CALL)
    assert rec["completion"].count(TOOL_OUTPUT_START) == 3 and backend.calls == 4


def test_token_budget_is_a_soft_failure_keeping_the_partial_trace(sandbox):
    long_turn = "<|channel|>analysis<|message|>" + "thinking " * 100
    backend = ScriptedBackend([CALL_TURN, long_turn], chars_per_token=4)
    first = backend.tokens(CALL_TURN[:-len(CALL)])
    (rec,), _ = run(backend, [spec()], sandbox, max_tokens=first + 10)
    assert rec["finish_reason"] == "length" and rec["length_limit"] == "max_tokens"
    assert rec["tokens"]["completion"] == first + 10
    assert rec["completion"].endswith(long_turn[:40]) and TOOL_OUTPUT_START + "42" in rec["completion"]
    assert rec["final_answer"] is None and rec["finished"] is False and rec["num_tool_calls"] == 1
    assert rec["errors"] == []


def test_hanging_cell_times_out_and_the_loop_goes_on(sandbox):
    (rec,), _ = run([call("while True: pass"), call("print('alive')"), FINAL_TURN], [spec()], sandbox,
                    call_timeout_s=1.0)
    tool = [m["content"] for m in rec["messages"] if m["role"] == "tool"]
    assert len(tool) == 2 and "time limit" in tool[0] and tool[1] == "alive"
    assert rec["sandbox"]["timeout"] == 1 and rec["sandbox"]["ok"] == 1
    assert rec["final_answer"] == "42" and rec["finish_reason"] == "stop"


def test_tool_output_is_capped(sandbox):
    (rec,), _ = run([call("print('x' * 5000)"), FINAL_TURN], [spec()], sandbox, output_chars=100)
    out = [m["content"] for m in rec["messages"] if m["role"] == "tool"][0]
    assert out.startswith("x" * 100) and "truncated" in out and len(out) < 200


def test_errors_are_per_row_and_late_context_overflow_keeps_the_trace(sandbox):
    def fail(req, turn):
        if "HUGE" in req.prompt:
            return "prompt has 99999 tokens; the model's context is 4096"
        if "OVERFLOW" in req.prompt and turn == 1:
            return "context full"
        return None

    backend = ScriptedBackend([CALL_TURN, FINAL_TURN], fail=fail)
    recs, _ = run(backend, [spec("ok"), spec("huge", problem="HUGE problem"),
                            spec("over", problem="OVERFLOW problem")], sandbox)
    ok, huge, over = recs
    assert ok["finish_reason"] == "stop" and ok["final_answer"] == "42"
    assert huge["finish_reason"] == "error" and huge["completion"] == ""
    assert huge["errors"] == ["round 1: prompt has 99999 tokens; the model's context is 4096"]
    assert over["finish_reason"] == "length" and over["length_limit"] == "context"
    assert over["num_tool_calls"] == 1 and TOOL_OUTPUT_START in over["completion"]


def test_tool_call_without_tir_ends_the_sample_with_an_error():
    (rec,), backend = run([CALL_TURN, FINAL_TURN], [spec(tir=False)], None)
    assert backend.calls == 1 and rec["num_tool_calls"] == 0 and rec["finish_reason"] == "stop"
    assert rec["errors"] == ["the model called a tool in a run without the python tool"]
    assert rec["tools"] == []


def test_no_tir_single_round_answer():
    (rec,), backend = run([FINAL_TURN], [spec(tir=False)], None)
    assert backend.calls == 1 and rec["final_answer"] == "42" and rec["finished"]


class EosBackend:
    """Stops like vLLM on gpt-oss: <|call|> / <|return|> are EOS ids, stripped, stop_reason None."""
    name, model, teacher_tokenizer = "eos", "eos", True

    def __init__(self):
        self.turn = 0

    def complete(self, requests):
        texts = [CALL_TURN[:-len(CALL)], FINAL_TURN[:-len("<|return|>")]]
        out = [CompletionResult(text=texts[min(self.turn, 1)], completion_tokens=5, finish_reason="stop")
               for _ in requests]
        self.turn += 1
        return out

    def close(self):
        pass


def test_eos_stops_are_read_from_the_last_header(sandbox):
    (rec,), _ = run(EosBackend(), [spec()], sandbox)
    assert rec["num_tool_calls"] == 1 and rec["final_answer"] == "42" and rec["finished"]
    assert rec["completion"].endswith("<|return|>") and rec["tokens"]["backend_is_teacher_tokenizer"]
