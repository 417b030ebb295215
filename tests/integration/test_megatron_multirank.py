"""The megatron trainer across 4 gloo ranks on CPU with the tiny MoE student, its layout changing
from stage to stage (TP1/EP2/DP4 -> TP2/EP2/DP2 -> TP2/EP4/DP2, sequence parallel with TP2), each
stage resuming the previous stage's dist checkpoint under the new layout.

World size 1 in this process is the reference: the same initial checkpoint, the same packed bins.
Everything at world size 4 runs in one torchrun (tests/integration/megatron_multirank_worker.py).
Tolerances: fp32 throughout; sums over DP ranks, TP all-reduces and the expert all-to-all only
reorder float additions, so losses agree to rel 1e-5 and logits to atol 1e-5.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from nmframe.config import compose
from tests.helpers import make_data, make_stage

pytest.importorskip("megatron.core")

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("megatron_multirank_worker.py")
STAGES = (("ctx256", 256, 2), ("ctx512", 512, 1), ("ctx1k", 1024, 1))  # name, capacity, steps


def moe_cfg():
    return compose(["trainer=megatron", "model=tiny_moe", "buckets=quickstart", "trainer.nodes=1",
                    "trainer.gpus_per_node=4", "trainer.global_batch_size=4", "trainer.precision=fp32",
                    "trainer.lr=3e-3"])


def single_rank_layout() -> dict:
    return {"tp": 1, "cp": 1, "ep": 1, "etp": 1, "pp": 1, "dp": 1, "micro_batch_size": 1, "global_batch_size": 4,
            "grad_accum": 4, "world": 1}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """World size 1 here, then the whole world-size-4 sequence in one torchrun."""
    from nmframe.packing import packed_batch
    from nmframe.training.megatron_trainer import MegatronTrainer, checkpoint_logits, teardown

    root = tmp_path_factory.mktemp("multirank")
    cfg = moe_cfg()
    data = make_data(root, n=16)
    stages = [make_stage(root, data, cap, name, i, max_steps=steps) for i, (name, cap, steps) in enumerate(STAGES)]
    samples = [data.sample(i) for i in range(3)]
    batch = packed_batch([s for s, _ in samples], [m for _, m in samples], pad_multiple=128)
    torch.save(batch, root / "logits_batch.pt")
    one = single_rank_layout()
    saved = torch.cuda.current_device, torch.cuda.synchronize, torch.cuda.Stream, torch.cuda.current_stream
    try:
        init = make_stage(root, data, 256, "init", 0, max_steps=0)
        MegatronTrainer().train_stage(init, None, root / "ws1_init", one, cfg)  # initial weights, no step
        ws1, prev = {}, root / "ws1_init"
        for sd in stages[:2]:
            ws1[sd.name] = MegatronTrainer().train_stage(sd, prev, root / f"ws1_{sd.name}", one, cfg).losses
            prev = root / f"ws1_{sd.name}"
        spec = {"root": str(root), "cfg": OmegaConf.to_container(cfg, resolve=True),
                "init_checkpoint": str(root / "ws1_init"),
                "stages": [{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(sd).items() if k != "on_step"}
                           for sd in stages]}
        (root / "spec.json").write_text(json.dumps(spec))
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
        proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=4",
                               str(WORKER), str(root / "spec.json")], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=900)
        assert proc.returncode == 0, proc.stderr[-4000:]
        ws4 = json.loads((root / "result.json").read_text())["stages"]
        ws1_logits = checkpoint_logits(cfg, one, root / "ws4_ctx256", batch)  # a 4 -> 1 reshard too
    finally:
        teardown()
        torch.cuda.current_device, torch.cuda.synchronize, torch.cuda.Stream, torch.cuda.current_stream = saved
    return {"root": root, "ws1": ws1, "ws4": ws4, "ws1_logits": ws1_logits, "log": proc.stderr}


@pytest.mark.slow
def test_world_size_4_first_step_loss_equals_world_size_1(runs):
    ws1, ws4 = runs["ws1"]["ctx256"], runs["ws4"]["ctx256"]["losses"]
    assert len(ws1) == len(ws4) == 2
    assert ws4[0] == pytest.approx(ws1[0], rel=1e-5)  # the forward: same weights, same bins
    # the second step also needs the gradients summed over DP, EP and TP exactly as one rank has them
    assert ws4[1] == pytest.approx(ws1[1], rel=1e-5)


@pytest.mark.slow
def test_each_stage_resumes_under_its_own_layout(runs):
    p = {name: runs["ws4"][name]["placement"] for name, _, _ in STAGES}
    assert [(p[n]["world"], p[n]["tp"], p[n]["ep"], p[n]["dp"], p[n]["expert_dp"]) for n in p] == [
        (4, 1, 2, 4, 2), (4, 2, 2, 2, 2), (4, 2, 4, 2, 1)]
    assert [p[n]["sequence_parallel"] for n in p] == [False, True, True]
    # ctx512 resumed ctx256's checkpoint (weights and Adam moments) resharded from TP1/EP2 to TP2/EP2:
    # its loss is the one rank's loss after the same stage sequence
    assert runs["ws4"]["ctx512"]["losses"][0] == pytest.approx(runs["ws1"]["ctx512"][0], rel=1e-5)
    ctx1k = runs["ws4"]["ctx1k"]["losses"]
    assert len(ctx1k) == 1 and np.isfinite(ctx1k[0])
    assert (runs["root"] / "ws4_ctx1k" / ".metadata").exists()
    assert "world size 4: TP2 CP1 EP4 ETP1 PP1 DP2" in runs["log"]


@pytest.mark.slow
def test_checkpoint_gives_the_same_logits_under_every_layout(runs):
    root = runs["root"]
    base = torch.load(root / "logits_ctx256_under_ctx256.pt")
    assert base.shape[0] == 1 and base.shape[-1] % 256 == 0
    for other in ("ctx512", "ctx1k"):
        resharded = torch.load(root / f"logits_ctx256_under_{other}.pt")
        assert resharded.shape == base.shape
        torch.testing.assert_close(resharded, base, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(runs["ws1_logits"], base, atol=1e-5, rtol=1e-5)
