"""A megatron train_stage with trainer.nodes=2 on the two-node local cluster
(`launchers/slurm/local-cluster.sh`): one Slurm job whose batch script runs the task once, which
starts `srun --nodes=2 --ntasks-per-node=1 torchrun --nnodes=2 --nproc-per-node=2`, so the tiny MoE
student trains on 4 gloo ranks, 2 on each node, under TP2/EP4 (sequence parallel)."""
from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import one_artifact, run_sft_pipeline

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


def _sacct(job_id: str) -> list[dict]:
    """The job's allocation and steps from accounting (which can lag the job's end by a moment)."""
    rows: list[dict] = []
    for _ in range(60):
        out = subprocess.run(["sacct", "-j", job_id, "-P", "-n", "-o", "JobID,State,NodeList,NTasks"],
                             capture_output=True, text=True).stdout
        rows = [dict(zip(("id", "state", "nodes", "ntasks"), line.split("|"))) for line in out.splitlines()]
        if any(r["id"] == f"{job_id}.0" and r["state"] == "COMPLETED" for r in rows):
            break
        time.sleep(0.5)
    return rows


def test_train_stage_runs_torchrun_on_both_nodes(tmp_path, monkeypatch):
    pytest.importorskip("megatron.core")
    nodes = subprocess.run(["sinfo", "-h", "-N", "-o", "%N"], capture_output=True, text=True).stdout.split()
    assert len(set(nodes)) >= 2, f"needs the two-node local cluster (bash launchers/slurm/local-cluster.sh); has {nodes}"
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    assert run_sft_pipeline(tmp_path, monkeypatch, "trainer=megatron", "model=tiny_moe", "trainer.nodes=2", "trainer.gpus_per_node=2",
                "trainer.global_batch_size=4", "trainer.precision=fp32", "trainer.time_min_per_stage=30",
                "buckets.stages=[{name:ctx2k,max_len:2048}]", "launcher=slurm_local",
                "launcher.slurm.poll_interval_s=0.5") == 0

    art = one_artifact(tmp_path, "train_stage", stage="ctx2k")
    result = json.loads((art / "losses.json").read_text())
    assert result["steps"] == 2 and all(loss > 0 for loss in result["losses"])
    placement = result["placement"]
    assert (placement["world"], placement["tp"], placement["ep"], placement["dp"]) == (4, 2, 4, 2)
    assert sorted(placement["rank_nodes"]) == ["n1", "n1", "n2", "n2"]  # 2 ranks on each node

    log = next((tmp_path / "runs").rglob("train_stage-*.log")).read_text()
    assert log.count("launching: srun --nodes=2 --ntasks-per-node=1") == 1  # the task itself ran once
    # rendezvous at n1's NodeAddr (the node name n1 itself does not resolve)
    assert "torch.distributed.run --nnodes=2 --nproc-per-node=2 --rdzv-backend=c10d --rdzv-endpoint=127.0.0.1:29500" in log
    assert "stage ctx2k: world size 4: TP2 CP1 EP4 ETP1 PP1 DP2" in log and "on nodes n1, n2" in log

    states = [json.loads(p.read_text()) for p in (tmp_path / "runs").rglob("states/*.json")]
    job_id = next(s["slurm_job_id"] for s in states if "/train_stage/" in s["artifact"])
    steps = {r["id"]: r for r in _sacct(job_id)}
    assert steps[job_id]["nodes"] == "n[1-2]"
    assert steps[f"{job_id}.0"]["nodes"] == "n[1-2]" and steps[f"{job_id}.0"]["ntasks"] == "2"  # srun: one per node
