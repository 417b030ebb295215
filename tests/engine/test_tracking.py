"""Tracking: wandb offline by default (no network), one wandb run per task with its metrics."""
import pytest

from nmframe.cli import main
from nmframe.engine.runs import list_runs


@pytest.mark.slow
def test_wandb_offline_run_per_task(nm_env):
    over = ["experiment=quickstart", f"paths.outputs={nm_env / 'outputs'}", "pipeline.steps=[ingest,counted]"]
    assert main(["run", "-q", *over]) == 0
    rd = list_runs(nm_env / "outputs" / "runs")[-1]
    offline = sorted((rd.path / "wandb").rglob("offline-run-*"))
    assert len(offline) == 2  # ingest and counted
    files = [f for d in offline for f in d.glob("*.wandb")]
    assert len(files) == 2 and all(f.stat().st_size > 0 for f in files)
    data = b"".join(f.read_bytes() for f in files)
    assert b"ingest/problems" in data and b"counted/problems" in data  # the logged metric keys
