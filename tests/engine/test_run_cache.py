"""Running: cache hits and misses, force, only, failures, dry runs, status, multirun dedup."""
import json

from nmframe.cli import main
from nmframe.engine.runs import list_runs

from tests.helpers import base_overrides, counter_lines


def run(tmp_path, *extra, verb="run"):
    return main([verb, *base_overrides(tmp_path, *extra)])


def states_of_last_run(tmp_path):
    rd = list_runs(tmp_path / "outputs" / "runs")[-1]
    tasks = rd.tasks()
    return {tasks[k]["task"]["step"] + str(tasks[k]["task"]["params"] or ""): v["state"] for k, v in rd.states().items()}


def test_second_run_reuses_every_step(nm_env):
    assert run(nm_env, "pipeline.steps=[ingest,counted]") == 0
    assert states_of_last_run(nm_env) == {"ingest": "done", "counted": "done"}
    art = next((nm_env / "outputs" / "artifacts" / "counted").glob("[0-9a-f]*"))
    manifest = json.loads((art / "manifest.json").read_text())
    assert manifest["step"] == "counted" and manifest["metrics"] == {"problems": 45}
    assert "git" in manifest and "packages" in manifest and manifest["host"]["hostname"]
    assert run(nm_env, "pipeline.steps=[ingest,counted]") == 0
    assert states_of_last_run(nm_env) == {"ingest": "cached", "counted": "cached"}
    assert len(counter_lines(nm_env)) == 1


def test_change_downstream_only_recomputes_downstream(nm_env):
    assert run(nm_env, "pipeline.steps=[ingest,counted]") == 0
    assert run(nm_env, "pipeline.steps=[ingest,counted]", "trainer.lr=1e-3") == 0
    assert states_of_last_run(nm_env) == {"ingest": "cached", "counted": "done"}
    assert len(counter_lines(nm_env)) == 2


def test_force_recomputes_a_cached_step(nm_env):
    assert run(nm_env, "pipeline.steps=[ingest,counted]") == 0
    assert main(["run", "--force", "counted", *base_overrides(nm_env, "pipeline.steps=[ingest,counted]")]) == 0
    assert states_of_last_run(nm_env) == {"ingest": "cached", "counted": "done"}
    assert len(counter_lines(nm_env)) == 2
    arts = list((nm_env / "outputs" / "artifacts" / "counted").glob("[0-9a-f]*"))
    assert len(arts) == 1  # replaced in place, no second copy, no leftovers
    assert not list((nm_env / "outputs" / "artifacts" / "counted").glob(".t*"))


def test_only_runs_the_selected_step_and_missing_upstream(nm_env):
    assert main(["run", "--only", "ingest", *base_overrides(nm_env, "pipeline.steps=[ingest,counted]")]) == 0
    assert states_of_last_run(nm_env) == {"ingest": "done", "counted": "unselected"}
    assert counter_lines(nm_env) == []
    assert main(["run", "--only", "counted", *base_overrides(nm_env, "pipeline.steps=[ingest,counted]")]) == 0
    assert states_of_last_run(nm_env) == {"ingest": "cached", "counted": "done"}


def test_failing_step_is_reported_and_leaves_no_artifact(nm_env, capsys):
    assert run(nm_env, "pipeline.steps=[ingest,boom,after_boom]") == 1
    states = states_of_last_run(nm_env)
    assert states == {"ingest": "done", "boom": "failed", "after_boom": "skipped"}
    rd = list_runs(nm_env / "outputs" / "runs")[-1]
    failed = [s for s in rd.states().values() if s["state"] == "failed"][0]
    assert "boom: this step always fails" in failed["error"]
    assert not (nm_env / "outputs" / "artifacts" / "boom").exists() or not list(
        (nm_env / "outputs" / "artifacts" / "boom").glob("[0-9a-f]*"))
    log = next((rd.path / "logs").glob("boom-*.log")).read_text()
    assert "RuntimeError: boom" in log
    assert "failed" in capsys.readouterr().err


def test_multirun_shares_upstream_steps(nm_env, capsys):
    assert main(["run", "-m", *base_overrides(nm_env, "pipeline.steps=[ingest,counted]", "trainer.lr=1e-4,2e-4,5e-4")]) == 0
    lines = counter_lines(nm_env)
    assert sorted(lines_lr.split()[1] for lines_lr in lines) == ["lr=0.0001", "lr=0.0002", "lr=0.0005"]
    rd = list_runs(nm_env / "outputs" / "runs")[-1]
    steps = [e["task"]["step"] for e in rd.tasks().values()]
    assert steps.count("ingest") == 1 and steps.count("counted") == 3
    assert len(list((rd.path / "points").glob("*.yaml"))) == 3


def test_plan_has_no_side_effects(nm_env, capsys):
    assert run(nm_env, "pipeline.steps=[ingest,counted]", verb="plan") == 0
    out = capsys.readouterr().out
    assert "ingest" in out and "counted" in out and "2 to run" in out
    assert not (nm_env / "outputs").exists()


def test_plan_marks_cached_steps(nm_env, capsys):
    assert run(nm_env, "pipeline.steps=[ingest]") == 0
    capsys.readouterr()
    assert run(nm_env, "pipeline.steps=[ingest,counted]", verb="plan") == 0
    out = capsys.readouterr().out
    assert "cached" in out and "1 to run, 1 cached" in out


def test_dryrun_prints_commands_and_sbatch_and_runs_nothing(nm_env, capsys):
    assert run(nm_env, "pipeline.steps=[ingest,counted]", "launcher=dryrun") == 0
    out = capsys.readouterr().out
    assert "nmframe.engine.task_runner" in out and "--task" in out
    assert not (nm_env / "outputs" / "artifacts").exists()
    assert run(nm_env, "pipeline.steps=[ingest,counted]", "launcher=dryrun", "launcher.dryrun_target=slurm",
               "launcher.slurm.partition=gpu", "launcher.slurm.account=math") == 0
    out = capsys.readouterr().out
    assert out.count("#!/bin/bash") == 2
    assert "#SBATCH --partition=gpu" in out and "#SBATCH --account=math" in out
    assert counter_lines(nm_env) == []


def test_status_lists_runs_and_tasks(nm_env, capsys):
    assert run(nm_env, "pipeline.steps=[ingest,counted]") == 0
    capsys.readouterr()
    assert main(["status", "--outputs", str(nm_env / "outputs")]) == 0
    out = capsys.readouterr().out
    assert "quickstart" in out and "2 done" in out
    rd = list_runs(nm_env / "outputs" / "runs")[-1]
    assert main(["status", str(rd.path)]) == 0
    out = capsys.readouterr().out
    assert "counted" in out and "done" in out


def test_scratch_is_removed_after_commit_unless_kept(nm_env):
    from nmframe.config import compose
    from nmframe.engine.dag import build_dag
    from nmframe.engine.step import scratch_dir

    over = base_overrides(nm_env, "pipeline.steps=[ingest,counted]")
    cfg = compose(over)
    counted = [t for t in build_dag(cfg).tasks if t.step == "counted"][0]
    scratch = scratch_dir(cfg, "counted", counted.key)
    scratch.mkdir(parents=True)
    (scratch / "partial.jsonl").write_text("{}\n")  # what a killed attempt would have left
    assert main(["run", *over]) == 0
    assert not scratch.exists()
    # with keep_scratch the partial work stays (for debugging a step)
    scratch.mkdir(parents=True)
    assert main(["run", "--force", "counted", *over, "paths.keep_scratch=true"]) == 0
    assert scratch.exists()
