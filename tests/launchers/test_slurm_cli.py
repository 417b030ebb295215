"""`nmframe run launcher=slurm` end to end on the real local cluster: the worker command runs in
Slurm jobs, artifacts land in the store, a sweep shares its upstream step, a failing step fails."""
import json

import pytest

from nmframe.cli import main
from nmframe.engine.runs import list_runs
from tests.helpers import base_overrides, counter_lines

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

SLURM = ["launcher=slurm", "launcher.slurm.partition=debug", "launcher.slurm.poll_interval_s=0.5",
         "launcher.slurm.mem_gb=1", "launcher.slurm.time_min=10"]


def _states(tmp_path):
    rd = list_runs(tmp_path / "outputs" / "runs")[-1]
    tasks = rd.tasks()
    return rd, {tasks[k]["task"]["step"] + json.dumps(tasks[k]["task"]["params"]) * bool(tasks[k]["task"]["params"]):
                v for k, v in rd.states().items()}


def test_two_step_dag_runs_as_dependent_slurm_jobs(nm_env):
    assert main(["run", "-q", *base_overrides(nm_env, "pipeline.steps=[ingest,counted]", *SLURM)]) == 0
    rd, states = _states(nm_env)
    assert states["ingest"]["state"] == "done" and states["counted"]["state"] == "done"
    assert states["ingest"]["slurm_job_id"] and states["counted"]["slurm_job_id"]
    assert int(states["counted"]["slurm_job_id"]) > int(states["ingest"]["slurm_job_id"])
    assert states["counted"]["started"] >= states["ingest"]["ended"]  # afterok dependency held
    art = next((nm_env / "outputs" / "artifacts" / "counted").glob("[0-9a-f]*"))
    assert (art / "out.txt").read_text() == "45 problems, lr=0.0002\n"
    # a second submission finds everything cached and submits nothing
    assert main(["run", "-q", *base_overrides(nm_env, "pipeline.steps=[ingest,counted]", *SLURM)]) == 0
    _, states = _states(nm_env)
    assert {s["state"] for s in states.values()} == {"cached"}


def test_multirun_sweep_on_slurm_shares_upstream(nm_env):
    assert main(["run", "-q", "-m", *base_overrides(nm_env, "pipeline.steps=[ingest,counted]",
                                                   "trainer.lr=1e-4,3e-4", *SLURM)]) == 0
    rd, states = _states(nm_env)
    assert [e["task"]["step"] for e in rd.tasks().values()].count("ingest") == 1
    assert sorted(l.split()[1] for l in counter_lines(nm_env)) == ["lr=0.0001", "lr=0.0003"]
    assert all(s["state"] == "done" for s in states.values())


def test_failing_step_on_slurm_is_reported_failed(nm_env):
    assert main(["run", "-q", *base_overrides(nm_env, "pipeline.steps=[ingest,boom,after_boom]", *SLURM)]) == 1
    _, states = _states(nm_env)
    assert states["ingest"]["state"] == "done"
    assert states["boom"]["state"] == "failed" and "boom: this step always fails" in states["boom"]["error"]
    assert states["after_boom"]["state"] in ("skipped", "cancelled")
