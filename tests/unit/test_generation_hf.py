"""The hf backend (tiny random model on CPU), alone and served over HTTP to the openai backend."""
from __future__ import annotations

import pytest

from nmframe.generation import CompletionRequest, LoopSettings, SampleSpec, TirLoop
from nmframe.generation.base import CONTEXT_OVERFLOW
from nmframe.generation.openai_backend import OpenAIBackend
from nmframe.harmony import render_problem_prompt
from nmframe.sandbox import Sandbox
from nmframe.testing.completions_server import CompletionsServer

pytestmark = pytest.mark.slow  # loads transformers and decodes on CPU

STOPS = ["<|call|>", "<|return|>"]


@pytest.fixture(scope="module")
def hf():
    from nmframe.generation.hf_backend import HfBackend

    return HfBackend("builtin:tiny", batch_size=8)


@pytest.fixture(scope="module")
def prompt():
    return render_problem_prompt("What is 1 + 1?", "low", with_python_tool=True)


def r(prompt, seed, max_tokens=12, stop=None):
    return CompletionRequest(prompt=prompt, max_tokens=max_tokens, stop=STOPS if stop is None else stop, seed=seed)


def test_deterministic_per_seed_whatever_the_batch(hf, prompt):
    batch = hf.complete([r(prompt, 1), r(prompt, 2), r(prompt + "x", 3)])
    alone = hf.complete([r(prompt, 2)])
    assert alone[0].text == batch[1].text and alone[0].completion_tokens == batch[1].completion_tokens
    assert batch[0].text != batch[1].text
    assert all(x.prompt_tokens > 100 for x in batch) and batch[2].prompt_tokens == batch[0].prompt_tokens + 1


def test_max_tokens_and_stop_strings(hf, prompt):
    (free,) = hf.complete([r(prompt, 5, max_tokens=24, stop=[])])
    assert free.finish_reason == "length" and free.completion_tokens == 24 and free.stop_reason is None
    ids = hf.tokenizer.encode(free.text, add_special_tokens=False)
    pieces = [hf.tokenizer.decode([i]) for i in ids]
    stop = next(p for p in pieces[3:] if len(p.strip()) >= 2 and p.isascii() and p.strip().isalnum())
    (cut,) = hf.complete([r(prompt, 5, max_tokens=24, stop=[stop])])
    assert cut.finish_reason == "stop" and cut.stop_reason == stop
    assert cut.text == free.text[:free.text.find(stop)]
    (kept,) = hf.complete([CompletionRequest(prompt, 24, [stop], seed=5, include_stop_str_in_output=True)])
    assert kept.text == free.text[:free.text.find(stop) + len(stop)]


def test_prompt_too_long_is_an_error_row(hf, prompt):
    old = hf.max_context
    hf.max_context = 400
    try:
        ok, bad = hf.complete([r("<|start|>assistant", 1, max_tokens=4), r(prompt * 3, 1)])
    finally:
        hf.max_context = old
    assert ok.finish_reason == "length" and ok.completion_tokens == 4
    assert bad.finish_reason == "error" and bad.error_type == CONTEXT_OVERFLOW
    assert "maximum context length is 400 tokens" in bad.error


def test_tir_loop_through_a_local_http_server_matches_the_hf_backend(hf):
    specs = [SampleSpec({"id": f"p{i}", "problem": f"What is {i} + 1?", "expected_answer": str(i + 1)},
                        "medium", True, 0, 77 + i) for i in range(3)]
    settings = LoopSettings(max_tokens=16, max_calls=2, call_timeout_s=5, count_teacher_tokens=False)
    with CompletionsServer(hf) as server, Sandbox(max_sessions=4) as sandbox:
        client = OpenAIBackend(server.endpoint, "builtin:tiny", max_concurrency=2, teacher_tokenizer=False)
        loop = TirLoop(client, settings, sandbox)
        via_http = loop.run(specs)
        loop.close()
        client.close()
    direct_loop = TirLoop(hf, settings, Sandbox(max_sessions=4))
    direct = direct_loop.run(specs)
    direct_loop.close()
    direct_loop.sandbox.close()
    assert server.requests >= 3 and server.max_in_flight <= 2
    assert {b["seed"] for b in server.bodies[:3]} == {77, 78, 79}
    for a, b in zip(via_http, direct):
        assert a["backend"] == "openai" and b["backend"] == "hf"
        assert a["completion"] == b["completion"] and a["finish_reason"] == b["finish_reason"]
        assert a["tokens"]["completion"] == b["tokens"]["completion"] <= 16
        assert a["finish_reason"] in ("stop", "length") and a["errors"] == b["errors"]
