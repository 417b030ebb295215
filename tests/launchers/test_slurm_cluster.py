"""The Slurm launcher against a real cluster (`launchers/slurm/local-cluster.sh` brings one up).

These tests submit real jobs: a dependency chain, a sweep submitted as a job array with a
fan-in task, a failing task, a job cancelled with `scancel` and a Ctrl-C while waiting (the
jobs must keep running). Each one also checks that the launcher returns within a bounded time,
because a launcher that hangs on a dead job is the failure that matters most on a cluster.
Skipped when `sbatch`/`sinfo` are not on PATH.
"""
from __future__ import annotations

import _thread
import subprocess
import threading
import time
from pathlib import Path

import pytest

from nmframe.engine.resources import Resources
from nmframe.engine.task import Task
from nmframe.engine.execution import ExecutionPlan, PlannedTask, TaskState
from nmframe.launch.slurm import SlurmLauncher, SlurmOptions

pytestmark = pytest.mark.slurm

FAST = SlurmOptions(poll_interval_s=0.5, time_min=5, mem_gb=1)


def _task(step: str, key: str, params: dict | None = None, deps: tuple = ()) -> Task:
    return Task(step=step, version="1", key=key, params=params or {},
                inputs={f"in{i}": d for i, d in enumerate(deps)}, resources=Resources(cpus=1, time_min=5))


def _planned(run_dir: Path, step: str, key: str, script: str, params: dict | None = None,
             deps: tuple = ()) -> PlannedTask:
    task = _task(step, key, params, deps)
    return PlannedTask(task=task, command=["bash", "-c", script], deps=list(deps),
                       log_path=run_dir / "logs" / f"{task.slug}.log")


def _launch(plan: ExecutionPlan, options: SlurmOptions = FAST):
    t0 = time.monotonic()
    outcomes = SlurmLauncher(options).launch(plan)
    return outcomes, time.monotonic() - t0


def _squeue(job_id: str, fmt: str) -> str:
    """From the controller (which keeps ended jobs for a few minutes): accounting may lag."""
    out = subprocess.run(["squeue", "-h", "--states=all", "-o", fmt, "-j", job_id],
                         capture_output=True, text=True, check=True).stdout
    return out.strip()


def test_two_step_dependency(tmp_path):
    data = tmp_path / "data.txt"
    a = _planned(tmp_path, "produce", "a" * 16,
                 f"echo payload-$SLURM_JOB_ID > {data}; date +%s.%N > {tmp_path}/a_end; echo produced")
    b = _planned(tmp_path, "consume", "b" * 16,
                 f"date +%s.%N > {tmp_path}/b_start; cat {data} > {tmp_path}/b_saw.txt; echo consumed >&2",
                 deps=(a.task.key,))
    outcomes, elapsed = _launch(ExecutionPlan(run_dir=tmp_path, tasks=[a, b], env={"NMFRAME_TEST": "1"}))

    oa, ob = outcomes[a.task.key], outcomes[b.task.key]
    assert (oa.state, ob.state) == (TaskState.DONE, TaskState.DONE), (oa, ob)
    assert oa.job_id and ob.job_id and oa.job_id != ob.job_id
    # B read what A wrote, and started only after A had finished
    assert (tmp_path / "b_saw.txt").read_text() == f"payload-{oa.job_id}\n"
    assert float((tmp_path / "b_start").read_text()) >= float((tmp_path / "a_end").read_text())
    # the task logs hold the commands' stdout and stderr; the job names are the task slugs
    assert (tmp_path / "logs" / f"{a.task.slug}.log").read_text() == "produced\n"
    assert (tmp_path / "logs" / f"{b.task.slug}.log").read_text() == "consumed\n"
    assert _squeue(oa.job_id, "%j") == a.task.slug
    assert _squeue(ob.job_id, "%j") == b.task.slug
    # resources: the task's cpus/time, the options' memory
    assert _squeue(oa.job_id, "%C|%l|%m") == "1|5:00|1G"
    assert (tmp_path / "slurm").is_dir()  # submitit's folder defaults to <run_dir>/slurm
    assert elapsed < 60


def test_sweep_array_then_fan_in(tmp_path):
    sweep = [_planned(tmp_path, "generate", f"{i}" * 16, f"echo $((10 * {i} + 1)) > {tmp_path}/out{i}",
                      params={"seed": i}) for i in range(3)]
    keys = tuple(p.task.key for p in sweep)
    total = _planned(tmp_path, "aggregate", "f" * 16,
                     f"cat {tmp_path}/out0 {tmp_path}/out1 {tmp_path}/out2 | paste -sd+ | bc > {tmp_path}/sum",
                     deps=keys)
    outcomes, elapsed = _launch(ExecutionPlan(run_dir=tmp_path, tasks=[*sweep, total]))

    assert {k: o.state for k, o in outcomes.items()} == {k: TaskState.DONE for k in [*keys, "f" * 16]}
    assert (tmp_path / "sum").read_text().strip() == "33"  # 1 + 11 + 21
    # the three seeds went out as one job array: <array id>_0.._2
    ids = [outcomes[k].job_id for k in keys]
    array_ids = {i.split("_")[0] for i in ids}
    assert len(array_ids) == 1 and sorted(i.split("_")[1] for i in ids) == ["0", "1", "2"]
    assert "_" not in outcomes["f" * 16].job_id
    assert elapsed < 90


def test_failure_skips_dependant(tmp_path):
    bad = _planned(tmp_path, "broken", "e" * 16, "echo about to fail; echo boom-on-stderr >&2; exit 3")
    after = _planned(tmp_path, "after", "d" * 16, f"touch {tmp_path}/must_not_exist", deps=(bad.task.key,))
    after2 = _planned(tmp_path, "after2", "c" * 16, f"touch {tmp_path}/must_not_exist2", deps=(after.task.key,))
    outcomes, elapsed = _launch(ExecutionPlan(run_dir=tmp_path, tasks=[bad, after, after2]))

    ob = outcomes[bad.task.key]
    assert ob.state is TaskState.FAILED
    assert ob.job_id
    assert "boom-on-stderr" in ob.message and "FAILED" in ob.message
    assert "command exited with status 3" in ob.message
    for p in (after, after2):
        o = outcomes[p.task.key]
        assert o.state in (TaskState.SKIPPED, TaskState.CANCELLED) and not o.state.ok, o
        assert o.job_id  # submitted, then cancelled by Slurm for its dependency
    assert outcomes[after.task.key].state is TaskState.SKIPPED
    assert not (tmp_path / "must_not_exist").exists() and not (tmp_path / "must_not_exist2").exists()
    assert elapsed < 60


def test_scancel_is_reported_cancelled(tmp_path):
    started = tmp_path / "started"
    sleeper = _planned(tmp_path, "sleeper", "9" * 16, f"touch {started}; sleep 600")
    after = _planned(tmp_path, "after", "8" * 16, f"touch {tmp_path}/must_not_exist", deps=(sleeper.task.key,))
    cancelled_at: list[float] = []

    def cancel_when_started():
        deadline = time.monotonic() + 60
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        job = subprocess.run(["squeue", "-h", "-n", sleeper.task.slug, "-o", "%i"],
                             capture_output=True, text=True).stdout.split()
        subprocess.run(["scancel", *job], check=True)
        cancelled_at.append(time.monotonic())

    thread = threading.Thread(target=cancel_when_started, daemon=True)
    thread.start()
    outcomes, elapsed = _launch(ExecutionPlan(run_dir=tmp_path, tasks=[sleeper, after]))
    thread.join(timeout=5)

    assert cancelled_at, "the sleeper never started"
    o = outcomes[sleeper.task.key]
    assert o.state is TaskState.CANCELLED, o
    assert o.job_id and "CANCELLED" in o.message
    assert outcomes[after.task.key].state is TaskState.SKIPPED
    assert not (tmp_path / "must_not_exist").exists()
    assert elapsed < 60
    assert time.monotonic() - cancelled_at[0] < 30  # returned soon after the cancellation


def test_interrupt_leaves_jobs_running(tmp_path, capsys):
    started = tmp_path / "started"
    long = _planned(tmp_path, "longrun", "7" * 16, f"touch {started}; sleep 600")

    def interrupt_when_started():
        deadline = time.monotonic() + 60
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        _thread.interrupt_main()  # what Ctrl-C does to the waiting launcher

    threading.Thread(target=interrupt_when_started, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        _launch(ExecutionPlan(run_dir=tmp_path, tasks=[long]))
    job_id = subprocess.run(["squeue", "-h", "-n", long.task.slug, "-o", "%i"],
                            capture_output=True, text=True).stdout.strip()
    try:
        assert job_id, "the job should still be in the queue"
        state = subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%T"],
                               capture_output=True, text=True).stdout.strip()
        assert state == "RUNNING"
        err = capsys.readouterr().err
        assert "keep running" in err
        assert f"scancel {job_id}" in err and f"squeue -j {job_id}" in err
    finally:
        subprocess.run(["scancel", job_id], check=False)
