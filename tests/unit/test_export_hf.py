"""Megatron dist checkpoint -> Hugging Face Qwen3 export: the tensor mapping on synthetic tensors,
and, on real tiny GPTModels built and saved the way the megatron trainer does, logits of the
exported transformers model equal to Megatron's own forward."""
import dataclasses
import json

import pytest
import torch

from nmframe.config import compose
from nmframe.export.mapping import (
    Geometry,
    MappingError,
    layer_to_hf,
    split_gate_up,
    split_qkv,
)

GEO = Geometry(num_layers=1, hidden_size=6, num_attention_heads=4, num_query_groups=2, head_dim=3, ffn_hidden_size=5)


def test_split_qkv_takes_each_group_q_heads_then_k_then_v():
    g, hpg, d, h = 2, 2, 3, 6
    # row r of the fused weight holds the value r in every column
    w = torch.arange((hpg + 2) * g * d, dtype=torch.float32)[:, None].repeat(1, h)
    q, k, v = split_qkv(w, GEO)
    rows = lambda t: t[:, 0].tolist()
    # group 0: rows 0-5 q heads 0,1; 6-8 k; 9-11 v. group 1: rows 12-17 q heads 2,3; 18-20 k; 21-23 v
    assert rows(q) == [0, 1, 2, 3, 4, 5, 12, 13, 14, 15, 16, 17]
    assert rows(k) == [6, 7, 8, 18, 19, 20]
    assert rows(v) == [9, 10, 11, 21, 22, 23]
    assert q.shape == (12, 6) and k.shape == (6, 6)


def test_gate_up_and_experts_mapping():
    gate, up = split_gate_up(torch.arange(20.0).reshape(10, 2), ffn=5, hidden=2)
    assert gate[:, 0].tolist() == [0, 2, 4, 6, 8] and up[:, 0].tolist() == [10, 12, 14, 16, 18]
    geo = dataclasses.replace(GEO, num_experts=3, moe_ffn_hidden_size=2)
    h, d, f = 6, 3, 2
    t = {"input_norm": torch.ones(h), "pre_mlp_norm": torch.full((h,), 2.0), "q_norm": torch.ones(d),
         "k_norm": torch.ones(d), "qkv": torch.zeros(24, h), "proj": torch.zeros(h, 12),
         "router": torch.arange(3.0)[:, None].repeat(1, h),
         "expert_fc1": torch.arange(3 * 2 * f, dtype=torch.float32).reshape(3, 2 * f, 1).repeat(1, 1, h),
         "expert_fc2": torch.arange(3.0)[:, None, None].repeat(1, h, f)}
    out = layer_to_hf(4, t, geo)
    p = "model.layers.4.mlp."
    assert out[p + "gate.weight"][:, 0].tolist() == [0, 1, 2]
    assert out[p + "experts.1.gate_proj.weight"][:, 0].tolist() == [4, 5]
    assert out[p + "experts.1.up_proj.weight"][:, 0].tolist() == [6, 7]
    assert out[p + "experts.2.down_proj.weight"].shape == (h, f) and float(out[p + "experts.2.down_proj.weight"][0, 0]) == 2
    assert out["model.layers.4.post_attention_layernorm.weight"][0] == 2
    assert sum(k.startswith(p + "experts.") for k in out) == 9 and not any("gate_proj" in k for k in out
                                                                            if "experts" not in k)


def test_wrong_geometry_is_named():
    with pytest.raises(MappingError, match=r"linear_qkv.weight: shape \(20, 6\), expected \(24, 6\)"):
        split_qkv(torch.zeros(20, 6), GEO)


def test_not_a_checkpoint(tmp_path):
    from nmframe.export import CheckpointError, export_hf

    with pytest.raises(CheckpointError, match="is not a megatron.core dist checkpoint"):
        export_hf(tmp_path, tmp_path / "hf", compose([]).model)


# -- real GPTModels ---------------------------------------------------------------------------
@pytest.fixture()
def megatron_cpu():
    pytest.importorskip("megatron.core")
    saved = torch.cuda.current_device, torch.cuda.synchronize
    yield
    from nmframe.training.megatron_trainer import teardown

    teardown()
    torch.cuda.current_device, torch.cuda.synchronize = saved


MOE = ["model.arch=moe", "model.num_experts=4", "model.moe_router_topk=2", "model.moe_ffn_hidden_size=32"]


def _train_cfg(*extra):
    return compose(["trainer=megatron", "trainer.nodes=1", "trainer.gpus_per_node=0", "trainer.global_batch_size=4",
                    "trainer.precision=fp32", *extra])


def _saved_megatron_model(cfg, path, monkeypatch):
    """GPTModel as the trainer builds it, random weights (norms too), saved as the trainer saves."""
    import nmframe.training.megatron_trainer as mt
    from nmframe.config.checks import check_parallel_layout

    if str(cfg.model.arch) == "moe":  # the alltoall dispatcher needs CUDA streams; the weights are the same
        from megatron.core.transformer.moe import moe_utils

        monkeypatch.setattr(moe_utils, "te_general_gemm", None, raising=False)  # unset without TE
        orig = mt.transformer_config
        monkeypatch.setattr(mt, "transformer_config", lambda *a: dataclasses.replace(
            orig(*a), moe_token_dispatcher_type="allgather"))
    layout = check_parallel_layout(cfg, "ctx512")
    mt.init_parallel(layout, seed=0)
    model, config, _ = mt.build_model(cfg, layout, on_gpu=False)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:  # norm weights: away from 1 so a misplaced norm shows
                p.copy_(1.0 + 0.3 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(0.08 * torch.randn(p.shape, generator=gen))
    ddp, opt = mt.build_optimizer(model, config, cfg, on_gpu=False)
    mt.save_checkpoint(path, ddp, opt, {"global_step": 7})
    model.eval()
    return model


def _compare_logits(cfg, tmp_path, monkeypatch):
    import transformers

    from nmframe.export import export_hf

    model = _saved_megatron_model(cfg, tmp_path / "ckpt", monkeypatch)
    summary = export_hf(tmp_path / "ckpt", tmp_path / "hf", cfg.model)
    assert summary["global_step"] == 7 and summary["dtype"] == "float32" and summary["files"] == ["model.safetensors"]
    hf = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "hf", dtype=torch.float32)
    hf.eval()
    gen = torch.Generator().manual_seed(2)
    ids = torch.randint(0, 512, (3, 24), generator=gen)
    with torch.no_grad():
        ref = model(ids, torch.arange(24)[None].expand(3, -1), None)  # [b, s, padded vocab]
        got = hf(ids).logits
    assert got.shape == (3, 24, summary["vocab_size"])
    ref = ref[..., :summary["vocab_size"]]
    assert float(ref.std()) > 0.3  # logits that differ between tokens, so a match means something
    torch.testing.assert_close(got, ref, atol=1e-4, rtol=1e-4)
    return summary, hf


@pytest.mark.slow
def test_dense_export_matches_megatron_logits(tmp_path, megatron_cpu, monkeypatch):
    summary, hf = _compare_logits(_train_cfg(), tmp_path, monkeypatch)
    assert type(hf).__name__ == "Qwen3ForCausalLM" and summary["architecture"] == "Qwen3ForCausalLM"
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert config["rope_theta"] == 1e6 and config["rms_norm_eps"] == 1e-6 and config["tie_word_embeddings"] is False
    assert (tmp_path / "hf" / "tokenizer.json").is_file()
    assert not (tmp_path / "hf.tmp").exists()
    # past shard_bytes: several safetensors files and an index, the same weights
    import transformers

    from nmframe.export import export_hf

    sharded = export_hf(tmp_path / "ckpt", tmp_path / "hf2", _train_cfg().model, shard_bytes=200_000)
    assert len(sharded["files"]) == 3 and sharded["files"][0] == "model-00001-of-00003.safetensors"
    index = json.loads((tmp_path / "hf2" / "model.safetensors.index.json").read_text())
    assert index["metadata"]["total_size"] == summary["bytes"] and len(index["weight_map"]) == 25
    again = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "hf2", dtype=torch.float32).state_dict()
    assert all(torch.equal(v, again[k]) for k, v in hf.state_dict().items())


@pytest.mark.slow
def test_evaluation_converts_a_megatron_student_without_export(tmp_path, megatron_cpu, monkeypatch):
    from nmframe.evaluation.model import resolve_model

    cfg = _train_cfg()
    (tmp_path / "artifact").mkdir()
    _saved_megatron_model(cfg, tmp_path / "artifact" / "checkpoint", monkeypatch)
    ref = resolve_model(cfg, tmp_path / "artifact", tmp_path / "scratch")
    assert ref.kind == "student" and ref.path == str(tmp_path / "scratch" / "hf")
    written = json.loads((tmp_path / "scratch" / "hf" / "nmframe_export.json").read_text())
    assert written["source"] == str(tmp_path / "artifact" / "checkpoint") and written["global_step"] == 7
    stamp = (tmp_path / "scratch" / "hf" / "model.safetensors").stat().st_mtime_ns
    assert resolve_model(cfg, tmp_path / "artifact", tmp_path / "scratch").path == ref.path  # a resume reuses it
    assert (tmp_path / "scratch" / "hf" / "model.safetensors").stat().st_mtime_ns == stamp


@pytest.mark.slow
def test_moe_export_matches_megatron_logits(tmp_path, megatron_cpu, monkeypatch):
    _summary, hf = _compare_logits(_train_cfg(*MOE), tmp_path, monkeypatch)
    assert type(hf).__name__ == "Qwen3MoeForCausalLM"
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert config["num_experts"] == 4 and config["num_experts_per_tok"] == 2 and config["norm_topk_prob"] is True
