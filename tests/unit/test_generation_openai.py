"""The openai backend against real local HTTP servers: retries, bounded concurrency, errors."""
from __future__ import annotations

import threading

import pytest

from nmframe.generation import CompletionRequest, CompletionResult
from nmframe.generation.base import CONTEXT_OVERFLOW, REQUEST_ERROR, SERVER_ERROR
from nmframe.generation.openai_backend import OpenAIBackend, completions_url, context_room
from nmframe.generation.server import free_port
from nmframe.testing.completions_server import CompletionsServer
from nmframe.testing.scripted_backend import ScriptedBackend

ANSWER = "<|channel|>final<|message|>\\boxed{3}<|return|>"


def backend_for(server, **kw):
    kw.setdefault("backoff_s", 0.01)
    kw.setdefault("backoff_max_s", 0.05)
    return OpenAIBackend(server.endpoint, "scripted", **kw)


def req(prompt="<|start|>assistant", max_tokens=50, tag=""):
    return CompletionRequest(prompt=prompt, max_tokens=max_tokens, stop=["<|call|>", "<|return|>"], seed=1, tag=tag)


def test_completions_url_forms():
    assert completions_url("http://h:8000") == "http://h:8000/v1/completions"
    assert completions_url("http://h:8000/v1/") == "http://h:8000/v1/completions"
    assert completions_url("http://h:8000/v1/completions") == "http://h:8000/v1/completions"


def test_request_body_and_result_fields():
    with CompletionsServer(ScriptedBackend([ANSWER])) as server:
        b = backend_for(server)
        (res,) = b.complete([req()])
        b.close()
    assert res.finish_reason == "stop" and res.stop_reason == "<|return|>"
    assert res.text == "<|channel|>final<|message|>\\boxed{3}" and res.completion_tokens == 9
    body = server.bodies[0]
    assert body["stop"] == ["<|call|>", "<|return|>"] and body["skip_special_tokens"] is False
    assert body["seed"] == 1 and body["max_tokens"] == 50 and body["prompt"] == "<|start|>assistant"
    assert body["temperature"] == 1.0 and body["top_p"] == 1.0 and body["model"] == "scripted"


def test_retries_503_twice_then_succeeds():
    seen = {}
    lock = threading.Lock()

    def hook(body):
        with lock:
            seen[body["prompt"]] = seen.get(body["prompt"], 0) + 1
            n = seen[body["prompt"]]
        if n <= 2:
            return 503, {"error": {"message": "overloaded"}}, {}
        return None

    with CompletionsServer(ScriptedBackend([ANSWER]), hook=hook) as server:
        b = backend_for(server)
        results = b.complete([req("p1"), req("p2")])
        b.close()
    assert [r.finish_reason for r in results] == ["stop", "stop"]
    assert seen == {"p1": 3, "p2": 3} and server.requests == 6
    assert b.stats == {"requests": 6, "retries": 4, "errors": 0}


def test_429_honours_retry_after_and_gives_up_after_max_retries():
    with CompletionsServer(ScriptedBackend([ANSWER]),
                           hook=lambda body: (429, {"error": {"message": "slow down"}}, {"Retry-After": "0"})) as server:
        b = backend_for(server, max_retries=2)
        (res,) = b.complete([req()])
        b.close()
    assert res.finish_reason == "error" and res.error_type == SERVER_ERROR
    assert res.error.startswith("gave up after 3 attempts: HTTP 429: slow down") and server.requests == 3


def test_connection_refused_is_retried_then_an_error_row():
    b = OpenAIBackend(f"http://127.0.0.1:{free_port()}", "m", max_retries=1, backoff_s=0.01, timeout_s=5)
    (res,) = b.complete([req()])
    b.close()
    assert res.finish_reason == "error" and res.error_type == SERVER_ERROR and "gave up after 2 attempts" in res.error


def test_bounded_concurrency():
    with CompletionsServer(ScriptedBackend([ANSWER]), delay_s=0.2, thread_safe=True) as server:
        b = backend_for(server, max_concurrency=3)
        results = b.complete([req(f"p{i}") for i in range(12)])
        b.close()
    assert len(results) == 12 and all(r.finish_reason == "stop" for r in results)
    assert server.requests == 12 and server.max_in_flight == 3


def test_bad_request_is_that_rows_error_and_not_retried():
    def hook(body):
        if body["prompt"] == "bad":
            return 400, {"error": {"message": "invalid stop"}}, {}
        return None

    with CompletionsServer(ScriptedBackend([ANSWER]), hook=hook) as server:
        b = backend_for(server)
        good, bad = b.complete([req("good"), req("bad")])
        b.close()
    assert good.finish_reason == "stop"
    assert bad.finish_reason == "error" and bad.error_type == REQUEST_ERROR and bad.error == "HTTP 400: invalid stop"
    assert server.requests == 2


VLLM_CTX = ("This model's maximum context length is 100 tokens. However, you requested 130 tokens "
            "(80 in the messages, 50 in the completion). Please reduce the length of the messages or completion.")


def test_context_length_rejection_is_retried_with_what_fits():
    def hook(body):
        if body["max_tokens"] > 20:
            return 400, {"error": {"message": VLLM_CTX}}, {}
        return None

    long_text = "<|channel|>analysis<|message|>" + "a" * 400
    with CompletionsServer(ScriptedBackend([long_text]), hook=hook) as server:
        b = backend_for(server)
        (res,) = b.complete([req(max_tokens=50)])
        b.close()
    assert [body["max_tokens"] for body in server.bodies] == [50, 20]
    assert res.finish_reason == "length" and res.context_limited and res.completion_tokens == 20


def test_prompt_that_cannot_fit_is_a_context_overflow_row():
    msg = "This model's maximum context length is 100 tokens and your request has 120 input tokens"
    with CompletionsServer(ScriptedBackend([ANSWER]), hook=lambda body: (400, {"error": {"message": msg}}, {})) as server:
        b = backend_for(server)
        (res,) = b.complete([req()])
        b.close()
    assert res.finish_reason == "error" and res.error_type == CONTEXT_OVERFLOW and server.requests == 1
    assert context_room(msg) == -20 and context_room(VLLM_CTX) == 20 and context_room("nothing") is None


def test_result_validation():
    with pytest.raises(ValueError, match="finish_reason must be one of"):
        CompletionResult(finish_reason="eos")
