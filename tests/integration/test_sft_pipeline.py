"""prepare_sft -> bucketize -> pack -> train_stage x 3 through the CLI on the tiny CPU student."""
import json
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import one_artifact, run_sft_pipeline


@pytest.mark.slow
def test_sft_pipeline_trains_every_tiny_stage(tmp_path, monkeypatch):
    assert run_sft_pipeline(tmp_path, monkeypatch) == 0
    prep = json.loads((one_artifact(tmp_path, "prepare_sft") / "report.json").read_text())
    assert prep["rows"] == 55 and prep["not_kept"] == 1 and prep["traces"] == 54
    assert prep["per_config"]["high/tir"]["traces"] == 11

    b = one_artifact(tmp_path, "bucketize")
    stages = json.loads((b / "stages.json").read_text())
    assert [s["name"] for s in stages] == ["ctx512", "ctx1k", "ctx2k"]
    report = json.loads((b / "report.json").read_text())
    assert report["dropped"] == 2  # the 3000-word trace, with and without TIR: dropped, not truncated
    assert report["final_mix"]["traces"] == round(0.1 * (stages[2]["traces"] - report["final_mix"]["traces"]))
    assert (b / "lengths.png").stat().st_size > 1000

    losses = {}
    prev_ckpt = None
    for i, name in enumerate(["ctx512", "ctx1k", "ctx2k"]):
        pk = json.loads((one_artifact(tmp_path, "pack", stage=name) / "pack.json").read_text())
        assert pk["capacity"] == [512, 1024, 2048][i] and pk["pad_multiple"] == 128
        assert pk["bins"] >= pk["lower_bound"] > 0
        t = one_artifact(tmp_path, "train_stage", stage=name)
        man = json.loads((t / "manifest.json").read_text())
        if prev_ckpt is not None:
            assert man["inputs"]["previous"]["key"] == prev_ckpt
        prev_ckpt = man["key"]
        res = json.loads((t / "losses.json").read_text())
        assert res["steps"] == 2 and len(res["losses"]) == 2 and res["tokens"] > 0
        assert (t / "checkpoint" / "model" / "config.json").exists()
        assert (t / "checkpoint" / "trainer_state.pt").exists()
        losses[name] = res["losses"]
    # each stage starts where the previous one ended: the global step carries over
    import torch

    state = torch.load(one_artifact(tmp_path, "train_stage", stage="ctx2k") / "checkpoint" / "trainer_state.pt",
                       weights_only=False)
    assert state["global_step"] == 6
    assert all(np.isfinite(v).all() for v in losses.values())

    # changing only the last stage's max_steps is a config change of every train_stage task
    # (trainer.* is in each slice); changing the final mix retrains only what depends on it
    assert run_sft_pipeline(tmp_path, monkeypatch, "buckets.final_mix_fraction=0.5") == 0
    def done(step):
        return len(list((tmp_path / "artifacts" / step).glob("*/manifest.json")))

    assert done("prepare_sft") == 1 and done("bucketize") == 2


@pytest.mark.slow
def test_megatron_backend_runs_each_stage_under_torchrun_on_cpu(tmp_path, monkeypatch):
    pytest.importorskip("megatron.core")
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[2]))
    assert run_sft_pipeline(tmp_path, monkeypatch, "trainer=megatron", "trainer.nodes=1", "trainer.gpus_per_node=0",
                "trainer.global_batch_size=4", "trainer.precision=fp32", "trainer.time_min_per_stage=30") == 0
    prev = None
    for name in ["ctx512", "ctx1k", "ctx2k"]:
        t = one_artifact(tmp_path, "train_stage", stage=name)
        res = json.loads((t / "losses.json").read_text())
        assert res["steps"] == 2 and res["transformer_engine"] is False
        assert (t / "checkpoint" / "metadata.json").exists() and (t / "checkpoint" / "common.pt").exists()
        if prev is not None:
            assert res["losses"][0] < prev  # starts from the previous stage's trained weights
        prev = res["losses"][-1] + 0.05


@pytest.mark.slow
def test_fill_long_bins_moves_short_traces_only_when_predicted_faster(tmp_path, monkeypatch):
    assert run_sft_pipeline(tmp_path, monkeypatch, "sft.fill_long_bins=true") == 0
    b = one_artifact(tmp_path, "bucketize")
    report = json.loads((b / "report.json").read_text())
    fill = report["fill"]
    assert fill["enabled"] is True and [d["target"] for d in fill["decisions"]] == ["ctx2k", "ctx1k"]
    for d in fill["decisions"]:
        assert {"taken", "reason", "moved", "candidates"} <= set(d)
        if d["moved"]:
            assert d["seconds_with"] > 0 and d["seconds_without"] > 0
            assert d["taken"] == (d["seconds_with"] < d["seconds_without"])
            assert d["bins_after"] <= d["bins_before"] and d["utilisation_after"] > d["utilisation_before"]
    assert json.loads((b / "manifest.json").read_text())["config_slice"]["fill"]["global_batch_size"] == 4
    stages = json.loads((b / "stages.json").read_text())
    ids = [set(np.load(b / s["file"]).tolist()) for s in stages]
    mixed = report["final_mix"]["traces"]
    assert sum(len(s) for s in ids) == 52 + mixed and len(set.union(*ids)) == 52  # 54 traces, 2 dropped
    assert ids[0].isdisjoint(ids[1]) and len(ids[2] & (ids[0] | ids[1])) == mixed
    assert fill["moved"] == sum(s.get("filled_with", 0) for s in stages)
    # on the tiny student every stage has the same (single-device) layout, so the move saves the
    # short stages' packing padding: the last stage takes all 12 ctx512 traces and 7 ctx1k ones
    d2k, d1k = fill["decisions"]
    assert d2k["taken"] and d2k["moved_from"] == {"ctx512": 12, "ctx1k": 7} and d2k["bins_after"] == 19
    assert d1k["reason"] == "no candidates" and [s["traces"] for s in stages] == [0, 14, 40]
    for i, name in enumerate(["ctx512", "ctx1k", "ctx2k"]):
        pk = json.loads((one_artifact(tmp_path, "pack", stage=name) / "pack.json").read_text())
        assert pk["traces"] == stages[i]["traces"] and pk["filled"] == ("groups" in stages[i])
        man = json.loads((one_artifact(tmp_path, "pack", stage=name) / "manifest.json").read_text())
        assert man["config_slice"]["fill_long_bins"] is True
        t = one_artifact(tmp_path, "train_stage", stage=name)
        assert json.loads((t / "losses.json").read_text())["steps"] == min(2, pk["steps"])
    assert json.loads((one_artifact(tmp_path, "pack", stage="ctx2k") / "pack.json").read_text())["bins"] <= 2 * 19
