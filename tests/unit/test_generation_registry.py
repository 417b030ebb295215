"""Backends by name: the registry, the spec builders of teacher and evaluation, the config check."""
from __future__ import annotations

import pytest

from nmframe.config import compose
from nmframe.config.checks import ConfigError
from nmframe.evaluation.model import EvaluateError, ModelRef, backend_kind, evaluation_spec
from nmframe.generation import CompletionRequest
from nmframe.generation import registry
from nmframe.generation.registry import (BackendSpec, UnknownBackendError, open_backend, register_backend,
                                         registered_backends)
from nmframe.testing.completions_server import CompletionsServer
from nmframe.testing.scripted_backend import ScriptedBackend


@pytest.fixture
def scratch_registry(monkeypatch):
    """Registrations made by a test vanish after it."""
    registered_backends()  # the built-in ones first, into the real registry
    monkeypatch.setattr(registry, "_BACKENDS", dict(registry._BACKENDS))


def test_builtin_backends_are_registered():
    assert registered_backends() == ["hf", "openai", "replay", "vllm"]


def test_a_new_backend_is_one_registered_class(scratch_registry, tmp_path):
    events = []

    @register_backend("echo")
    class EchoBackend:
        name = "echo"
        teacher_tokenizer = False

        def __init__(self, model):
            self.model = model

        @classmethod
        def from_spec(cls, spec, stack, log_dir):
            events.append(("built", spec.model, log_dir))
            stack.callback(events.append, ("server stopped",))
            return cls(spec.model)

        def complete(self, requests):
            return [ScriptedBackend([r.prompt + "!<|return|>"]).complete([r])[0] for r in requests]

        def close(self):
            events.append(("closed",))

    assert "echo" in registered_backends()
    with open_backend(BackendSpec(backend="echo", model="m"), tmp_path) as backend:
        (res,) = backend.complete([CompletionRequest(prompt="hi", max_tokens=10)])
    assert res.text == "hi!" and backend.model == "m"
    # the backend is closed before what it entered on the stack (its server) is stopped
    assert events == [("built", "m", tmp_path), ("closed",), ("server stopped",)]


def test_registering_a_name_twice_is_an_error(scratch_registry):
    class Other:
        @classmethod
        def from_spec(cls, spec, stack, log_dir):
            return cls()

    with pytest.raises(ValueError, match="backend name 'hf' is registered twice"):
        register_backend("hf")(Other)
    with pytest.raises(TypeError, match="must define from_spec"):
        register_backend("bare")(type("Bare", (), {}))


def test_unknown_backend_lists_the_registered_ones():
    with pytest.raises(UnknownBackendError, match="unknown generation backend 'nope'; registered backends: hf, openai, replay, vllm"):
        with open_backend(BackendSpec(backend="nope", model="m")):
            pass


def test_teacher_spec_reads_teacher_and_generate_sections():
    cfg = compose(["experiment=quickstart", "teacher.backend=openai", "teacher.endpoint=http://h:1",
                   "teacher.max_concurrency=3", "generate.request_timeout_s=9", "generate.server_args=[--a,--b]",
                   "generate.max_model_len=2048", "generate.batch_size=5"])
    spec = BackendSpec.from_teacher(cfg)
    assert (spec.backend, spec.endpoint, spec.max_concurrency, spec.request_timeout_s) == ("openai", "http://h:1", 3, 9.0)
    assert spec.server_args == ("--a", "--b") and spec.max_model_len == 2048 and spec.batch_size == 5
    assert spec.model == cfg.teacher.model and not spec.teacher_tokenizer
    gpt = BackendSpec.from_teacher(compose(["experiment=quickstart", "teacher.model=openai/gpt-oss-120b"]))
    assert gpt.teacher_tokenizer


def test_evaluation_spec_takes_the_evaluate_section():
    cfg = compose(["experiment=quickstart", "evaluate.backend=openai", "evaluate.endpoint=http://e:2",
                   "evaluate.tensor_parallel_size=2", "evaluate.batch_size=7", "teacher.max_retries=9"])
    spec = evaluation_spec(cfg, ModelRef("base", "/models/student", False, "x"))
    assert (spec.backend, spec.model, spec.endpoint, spec.tensor_parallel_size, spec.batch_size) == \
        ("openai", "/models/student", "http://e:2", 2, 7)
    assert spec.max_retries == 9  # what the evaluate section does not set comes from the teacher's


def test_evaluate_backend_outside_the_registry_is_refused():
    with pytest.raises(EvaluateError, match="evaluate.backend='bogus': allowed auto, hf, openai, replay, vllm"):
        backend_kind(compose(["experiment=quickstart", "evaluate.backend=bogus"], check=False))


def test_teacher_backend_is_checked_against_the_registry():
    with pytest.raises(ConfigError, match=r"teacher.backend='bogus': unknown generation backend \(allowed: hf, openai, replay, vllm\)"):
        compose(["experiment=quickstart", "teacher.backend=bogus"])


def test_openai_spec_talks_to_its_endpoint():
    with CompletionsServer(ScriptedBackend(["\\boxed{3}<|return|>"])) as server:
        spec = BackendSpec(backend="openai", model="scripted", endpoint=server.endpoint, max_concurrency=2)
        with open_backend(spec) as backend:
            (res,) = backend.complete([CompletionRequest(prompt="q", max_tokens=20, stop=["<|return|>"])])
    assert res.finish_reason == "stop" and res.text == "\\boxed{3}" and backend.max_concurrency == 2
