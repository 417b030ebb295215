"""The megatron backend's real wiring on CPU: parallel state (gloo, one rank), GPTModel with the
local layer spec, packed THD micro-batches with PackedSeqParams, dist checkpoints between stages."""
import json

import numpy as np
import pytest
import torch

from nmframe.config import compose
from nmframe.config.checks import check_parallel_layout
from nmframe.steps.train_stage import torchrun_command
from tests.helpers import make_data, make_stage, megatron_cpu_cfg

pytest.importorskip("megatron.core")


@pytest.mark.slow
def test_packed_thd_matches_unpacked(tmp_path, megatron_cpu):
    from nmframe.packing import packed_batch
    from nmframe.training.megatron_trainer import build_model, init_parallel, packed_forward

    cfg = megatron_cpu_cfg()
    layout = check_parallel_layout(cfg, "ctx512")
    assert init_parallel(layout, seed=0) is False
    model, config, use_te = build_model(cfg, layout, on_gpu=False)
    assert use_te is False
    data = make_data(tmp_path, n=3)
    samples = [data.sample(i) for i in range(3)]
    b = packed_batch([s for s, _ in samples], [m for _, m in samples], pad_multiple=128)
    assert b.num_samples == 3 and b.pad_len > 0
    packed, n = packed_forward(model, b, torch.device("cpu"))
    packed.backward()
    g_packed = {k: p.grad.clone() for k, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    total, m = 0.0, 0
    for ids, mask in samples:  # each sample alone, no packing, no PackedSeqParams (sbhd, causal)
        x = torch.as_tensor(ids, dtype=torch.long)[None]
        lab = torch.full_like(x, 0)
        lab[0, :-1] = x[0, 1:]
        tgt = torch.zeros(x.shape, dtype=torch.float32)
        tgt[0, :-1] = torch.as_tensor(mask[1:], dtype=torch.float32)
        per_tok = model(x, torch.arange(x.shape[1])[None], None, labels=lab)
        total = total + (per_tok * tgt).sum()
        m += int(tgt.sum())
    total.backward()
    assert n == m
    assert float(packed) == pytest.approx(float(total), rel=1e-5)
    for k, p in model.named_parameters():
        assert torch.allclose(p.grad, g_packed[k], atol=1e-5, rtol=1e-4), k


@pytest.mark.slow
def test_two_stages_through_dist_checkpoints(tmp_path, megatron_cpu):
    from nmframe.training.megatron_trainer import MegatronTrainer

    cfg = megatron_cpu_cfg()
    layout = check_parallel_layout(cfg, "ctx512")
    data = make_data(tmp_path, n=12)
    r1 = MegatronTrainer().train_stage(make_stage(tmp_path, data, 256, "a", 0, epochs=3.0), None, tmp_path / "ck1",
                                       layout, cfg)
    assert r1.steps == 9 and np.mean(r1.losses[-3:]) < np.mean(r1.losses[:3]) - 0.05
    from megatron.core.dist_checkpointing import load_tensors_metadata

    saved = load_tensors_metadata(str(tmp_path / "ck1"))  # Adam moments sharded like their parameters
    assert {"optimizer.state.exp_avg.output_layer.weight", "optimizer.state.exp_avg_sq.output_layer.weight"} <= set(saved)
    assert json.loads((tmp_path / "ck1" / "trainer_state.json").read_text())["global_step"] == 9
    r2 = MegatronTrainer().train_stage(make_stage(tmp_path, data, 512, "b", 1, seed=1), tmp_path / "ck1",
                                       tmp_path / "ck2", layout, cfg)
    assert r2.extra["global_step"] == 12 and r2.extra["transformer_engine"] is False
    assert np.mean(r2.losses) < np.mean(r1.losses[:3]) - 0.05  # loaded the trained weights


@pytest.mark.slow
def test_megatron_honours_the_cosine_schedule(tmp_path, megatron_cpu, monkeypatch):
    from nmframe.training import megatron_trainer
    from nmframe.training.megatron_trainer import MegatronTrainer
    from nmframe.training.optim import LrPlan

    built = []
    real_build = megatron_trainer.build_optimizer
    monkeypatch.setattr(megatron_trainer, "build_optimizer",
                        lambda *a, **kw: built.append(real_build(*a, **kw)) or built[-1])

    cfg = megatron_cpu_cfg("trainer.lr_schedule=cosine", "trainer.lr_decay_steps=4", "trainer.min_lr=3e-4")
    seen = []
    stage = make_stage(tmp_path, make_data(tmp_path, n=8), 256, "a", 0, epochs=2.0, on_step=seen.append)
    MegatronTrainer().train_stage(stage, None, tmp_path / "ck", check_parallel_layout(cfg, "ctx512"), cfg)
    plan = LrPlan.from_trainer(cfg.trainer)
    lrs = [m["lr"] for m in seen]
    assert lrs == pytest.approx([plan.at(s) for s in range(4)])
    assert lrs[0] == pytest.approx(3e-3) and lrs == sorted(lrs, reverse=True) and lrs[-1] < 1e-3
    # the rate was set on the optimizer, not only computed: its param groups hold the last one
    (_, opt), = built
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([plan.at(3)] * len(opt.param_groups))


def test_torchrun_command_per_node(tmp_path):
    cfg = compose(["trainer=megatron", "model=qwen3_8b", "buckets=paper"])
    single = torchrun_command(cfg, tmp_path / "spec.json", env={"SLURM_JOB_NUM_NODES": "1"})
    assert single[1:6] == ["-m", "torch.distributed.run", "--standalone", "--nnodes=1", "--nproc-per-node=8"]
    assert single[-3:] == ["nmframe.training.megatron_entry", "--spec", str(tmp_path / "spec.json")][-3:]
    multi = torchrun_command(cfg, tmp_path / "spec.json", env={"SLURM_JOB_NUM_NODES": "32", "SLURM_JOB_ID": "77",
                                                                "NMFRAME_MASTER_ADDR": "node001"})
    assert multi[:4] == ["srun", "--nodes=32", "--ntasks-per-node=1", "--kill-on-bad-exit=1"]
    assert "--nnodes=32" in multi and "--nproc-per-node=8" in multi
    assert "--rdzv-endpoint=node001:29500" in multi and "--rdzv-id=77" in multi


def test_padded_vocab_is_the_same_for_every_stage():
    from nmframe.config import compose
    from nmframe.training.megatron_trainer import padded_vocab_size

    cfg = compose(["model=qwen3_8b", "trainer=megatron", "buckets=paper"])  # TP 2, 2, 4, 8 by stage
    assert padded_vocab_size(cfg, 151936) == 152576  # multiple of 128 x 8, for every stage
    assert padded_vocab_size(cfg, 152576) == 152576
