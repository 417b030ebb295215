"""The offline vLLM backend: a clear error without vLLM; the tool loop on a GPU with a tiny model."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from nmframe.generation import BackendUnavailable


def save_tiny_model(path: Path) -> Path:
    from nmframe.testing.builtin_teacher import save_builtin_teacher

    return save_builtin_teacher("builtin:tiny", path)


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed here")
def test_missing_vllm_names_the_gpu_extra():
    from nmframe.generation.vllm_backend import VllmBackend

    with pytest.raises(BackendUnavailable, match=r"nmframe\[gpu\]"):
        VllmBackend("builtin:tiny")


@pytest.mark.gpu
def test_vllm_backend_runs_the_tool_loop_on_a_tiny_model(tmp_path):
    from nmframe.generation import LoopSettings, SampleSpec, TirLoop
    from nmframe.generation.vllm_backend import VllmBackend
    from nmframe.sandbox import Sandbox

    model_dir = save_tiny_model(tmp_path / "tiny")
    backend = VllmBackend(str(model_dir), max_model_len=2048, gpu_memory_utilization=0.3,
                          teacher_tokenizer=False, engine_kwargs={"enforce_eager": True})
    specs = [SampleSpec({"id": f"p{i}", "problem": f"What is {i} + 1?"}, "high", True, 0, 5 + i) for i in range(4)]
    with Sandbox(max_sessions=8) as sandbox:
        loop = TirLoop(backend, LoopSettings(max_tokens=64, max_calls=3, call_timeout_s=5), sandbox)
        recs = loop.run(specs)
        loop.close()
    assert [r["problem_id"] for r in recs] == ["p0", "p1", "p2", "p3"]
    assert all(r["finish_reason"] in ("stop", "length") and r["tokens"]["completion"] <= 64 for r in recs)
    again = TirLoop(backend, LoopSettings(max_tokens=64, max_calls=0), None)
    too_long = again.run([SampleSpec({"id": "big", "problem": "x " * 5000}, "high", False, 0, 1)])[0]
    assert too_long["finish_reason"] == "error" and "maximum context length" in too_long["errors"][0]


def test_a_torchvision_built_for_another_torch_is_named_with_the_fix(tmp_path, monkeypatch):
    import sys

    from nmframe.generation.vllm_backend import check_torch_family

    fake = tmp_path / "torchvision"
    fake.mkdir()
    (fake / "__init__.py").write_text('raise RuntimeError("operator torchvision::nms does not exist")\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "torchvision", raising=False)
    with pytest.raises(BackendUnavailable, match=r"torchvision is installed but does not match torch .*"
                                                 r"operator torchvision::nms does not exist.*"
                                                 r"pip uninstall -y torchvision torchaudio torchcodec"):
        check_torch_family()
