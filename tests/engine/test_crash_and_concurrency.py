"""A killed step leaves nothing that looks complete; two concurrent runs compute a key once."""
import os
import signal
import subprocess
import sys
import time

import pytest

from nmframe.cli import main
from nmframe.config import compose
from nmframe.engine.artifacts import ArtifactStore
from nmframe.engine.dag import build_dag
from nmframe.engine.orchestrate import make_plan, write_run
from nmframe.engine.runs import list_runs

from tests.helpers import base_overrides, counter_lines, start_run_that_sleeps_mid_step


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.slow
def test_sigkill_mid_step_leaves_no_complete_artifact(nm_env, monkeypatch):
    proc, over = start_run_that_sleeps_mid_step(nm_env, monkeypatch)
    # kill the orchestrator and the worker mid-write (each task runs in its own process session)
    worker_pid = next(s["pid"] for rd in list_runs(nm_env / "outputs" / "runs")
                      for s in rd.states().values() if s.get("state") == "running")
    os.killpg(proc.pid, signal.SIGKILL)
    os.killpg(worker_pid, signal.SIGKILL)
    proc.wait()
    t0 = time.time()
    while _alive(worker_pid) and time.time() - t0 < 10:
        time.sleep(0.05)
    assert not _alive(worker_pid)
    step_dir = nm_env / "outputs" / "artifacts" / "partial_then_sleep"
    assert [p.name for p in step_dir.iterdir() if not p.name.startswith(".")] == []  # nothing final
    temps = list(step_dir.glob(".tmp-*"))
    assert len(temps) == 1 and (temps[0] / "data.jsonl").read_text() == '{"a": 1}\n'
    cfg = compose(over)
    task = [t for t in build_dag(cfg).tasks if t.step == "partial_then_sleep"][0]
    assert not ArtifactStore(cfg.paths.artifacts).is_done(task.step, task.key)
    # the rerun computes it, and clears the dead run's temporary directory
    monkeypatch.setenv("NMFRAME_TEST_SLEEP", "0")
    t0 = time.time()
    assert main(["run", *over]) == 0
    assert time.time() - t0 < 50  # nobody held the key's lease: the killed worker released it
    final = step_dir / task.key
    assert (final / "data.jsonl").read_text() == '{"a": 1}\n{"a": 2}\n'
    assert (final / "manifest.json").exists()
    assert list(step_dir.glob(".tmp-*")) == []


@pytest.mark.slow
def test_two_concurrent_runs_compute_a_key_once(nm_env, monkeypatch):
    monkeypatch.setenv("NMFRAME_TEST_SLEEP", "3")
    over = base_overrides(nm_env, "pipeline.steps=[ingest,counted]")
    procs = [subprocess.Popen([sys.executable, "-m", "nmframe.cli", "run", "-q", *over],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=180)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert len(counter_lines(nm_env)) == 1  # computed once; the other run waited and reused it
    arts = list((nm_env / "outputs" / "artifacts" / "counted").glob("[0-9a-f]*"))
    assert len(arts) == 1


def test_lease_blocks_a_second_holder(tmp_path):
    store = ArtifactStore(tmp_path)
    with store.lease("s", "k"):
        code = ("from nmframe.engine.artifacts import ArtifactStore, LeaseTimeout\n"
                f"s = ArtifactStore({str(tmp_path)!r})\n"
                "try:\n    s.lease('s', 'k', timeout_s=0.5).__enter__()\nexcept LeaseTimeout as e:\n    print('busy', e)\n")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    assert out.startswith("busy") and "being computed by another process" in out
    with store.lease("s", "k", timeout_s=1):  # released: free again
        pass


def test_stale_plan_is_refused(nm_env, monkeypatch):
    """A worker refuses a task whose key no longer matches the code (VERSION bumped after planning)."""
    from nmframe.engine import task_runner
    from nmframe.steps.ingest import Ingest

    over = base_overrides(nm_env, "pipeline.steps=[ingest]")
    plan = make_plan([(over, compose(over))])
    rd = write_run(plan, ["test"])
    key = plan.entries[0].task.key
    monkeypatch.setattr(Ingest, "VERSION", "999")
    assert task_runner.execute(rd.path, key) == 1
    assert "no longer matches" in rd.states()[key]["error"]
