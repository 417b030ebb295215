"""A megatron-trained tiny student is evaluated: train_stage (trainer=megatron, torchrun on CPU) exports
checkpoint/hf/ after the final stage, and evaluate samples that export with transformers."""
import json
from pathlib import Path

import pytest

from tests.helpers import one_artifact, run_sft_pipeline

STEPS = "[ingest,fixture_traces,prepare_sft,bucketize,pack,train_stage,evaluate]"


@pytest.mark.slow
def test_megatron_student_is_exported_and_evaluated(tmp_path, monkeypatch):
    pytest.importorskip("megatron.core")
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[2]))
    assert run_sft_pipeline(tmp_path, monkeypatch, "trainer=megatron", "trainer.nodes=1", "trainer.gpus_per_node=0",
                "trainer.global_batch_size=4", "trainer.precision=fp32", "trainer.time_min_per_stage=30",
                "trainer.max_steps=1", f"pipeline.steps={STEPS}", "evaluate.configs=[low/notir]",
                "evaluate.samples=1", "evaluate.max_problems=1", "evaluate.max_tokens=8") == 0
    last = one_artifact(tmp_path, "train_stage", stage="ctx2k")
    export = json.loads((last / "checkpoint" / "hf" / "nmframe_export.json").read_text())
    assert export["architecture"] == "Qwen3ForCausalLM" and export["global_step"] == 3
    assert export["source"] == ".." and export["files"] == ["model.safetensors"]
    for earlier in ("ctx512", "ctx1k"):  # only the final stage is exported
        assert not (one_artifact(tmp_path, "train_stage", stage=earlier) / "checkpoint" / "hf").exists()
    ev = one_artifact(tmp_path, "evaluate", benchmark="comp-math-24-25", mode="low", tir=False)
    scores = json.loads((ev / "scores.json").read_text())
    assert scores["model"]["kind"] == "student"
    assert scores["model"]["path"] == str(last / "checkpoint" / "hf")
    assert scores["samples_per_problem"] == 1 and scores["problems"] == 3
    assert len((ev / "records.jsonl").read_text().splitlines()) == 3
