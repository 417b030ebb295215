"""What the terminal says: failures with their cause, plans per step, status in DAG order, runs
whose orchestrator died."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from nmframe.cli import main
from nmframe.engine.failures import last_error_line
from nmframe.engine.plan_summary import TaskCost, _wall_hours
from nmframe.engine.resources import Resources
from nmframe.engine.runs import HEARTBEAT_STALE_S, RunDir, dag_order, list_runs
from nmframe.engine.task import Task

from tests.helpers import base_overrides, start_run_that_sleeps_mid_step


def run(tmp_path, *extra, verb="run"):
    return main([verb, *base_overrides(tmp_path, *extra)])


def last_run(tmp_path) -> RunDir:
    return list_runs(tmp_path / "outputs" / "runs")[-1]


# --- failures -----------------------------------------------------------------------------------

def test_a_failure_shows_its_error_line_and_counts_its_dependants(nm_env, capsys):
    assert run(nm_env, "pipeline.steps=[ingest,boom,after_boom,after_boom_shards]") == 1
    cap = capsys.readouterr()
    err = cap.err
    assert "failed boom: RuntimeError: boom: this step always fails" in err
    log = re.search(r"log: (\S+)", err).group(1)
    assert os.path.exists(log) and "Traceback" in open(log).read()
    assert "4 tasks not run because boom failed" in err
    # no line per skipped task, neither live nor at the end
    assert "after_boom" not in err and "skipped" not in cap.out
    assert "nmframe report" not in cap.out  # nothing to report on a failed run
    assert main(["status", str(last_run(nm_env).path)]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "shard=2" in line)
    assert "skipped" in row and "upstream boom did not finish" in row


def test_a_successful_run_ends_with_the_command_that_reports_it(nm_env, capsys):
    assert run(nm_env, "pipeline.steps=[ingest,counted]") == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == f"report: nmframe report {last_run(nm_env).path}"


def test_last_error_line_prefers_the_final_exception_then_logged_errors(tmp_path):
    log = tmp_path / "t.log"
    log.write_text("INFO start\nTraceback (most recent call last):\n  File \"x.py\", line 1, in f\n"
                   "    raise ValueError('x')\nnmframe.steps.ingest.IngestError: source file not found: /d\n"
                   "INFO cleanup\n")
    assert last_error_line(log) == "nmframe.steps.ingest.IngestError: source file not found: /d"
    log.write_text("INFO a\n2026-01-01 ERROR nmframe.steps.generate: server did not start\nINFO b\n")
    assert last_error_line(log) == "2026-01-01 ERROR nmframe.steps.generate: server did not start"
    log.write_text("")
    assert last_error_line(log, recorded="Killed: signal 9") == "Killed: signal 9"
    assert last_error_line(tmp_path / "absent.log") == "no log output"


# --- input files at plan time -------------------------------------------------------------------

def test_a_missing_input_file_stops_the_run_before_anything_starts(tmp_path, capsys):
    over = ["experiment=paper/table3", f"paths.outputs={tmp_path}", "paths.data=/nonexistent/data",
            "tracking.wandb_mode=disabled", "--only", "ingest"]
    assert main(["run", "-q", *over]) == 2
    err = capsys.readouterr().err
    assert "missing input file: source.files[0].path=/nonexistent/data/nemotron-math-v2 (read by ingest)" in err
    assert "cannot run" in err
    assert not (tmp_path / "runs").exists()  # refused before a run directory was written
    assert main(["plan", *over]) == 0  # a plan still shows what would run, and names the file
    assert "source.files[0].path=/nonexistent/data/nemotron-math-v2" in capsys.readouterr().err


def test_only_tasks_that_will_run_need_their_files(tmp_path, capsys):
    over = ["experiment=paper/table3", f"paths.outputs={tmp_path}", "paths.data=/nonexistent/data"]
    assert main(["plan", *over]) == 0
    assert "sft.import_files[1].path=/nonexistent/data/openmathreasoning" in capsys.readouterr().err
    assert main(["plan", *over, "--only", "ingest"]) == 0  # import_traces is not selected: its files are not needed
    err = capsys.readouterr().err
    assert "source.files[0].path" in err and "import_files" not in err


# --- plans --------------------------------------------------------------------------------------

def test_plan_counts_add_up_with_force(nm_env, capsys):
    assert run(nm_env, "pipeline.steps=[ingest,counted]") == 0
    capsys.readouterr()
    assert main(["plan", "--force", "counted", *base_overrides(nm_env, "pipeline.steps=[ingest,counted]")]) == 0
    out = capsys.readouterr().out
    assert "2 tasks: 1 to run (1 forced), 1 cached" in out
    assert main(["plan", "--only", "counted", *base_overrides(nm_env, "pipeline.steps=[ingest,fan_out,counted]")]) == 0
    out = capsys.readouterr().out
    assert "4 tasks: 0 to run, 2 cached, 2 not selected" in out


def test_plan_is_a_row_per_step_and_tasks_lists_every_task(nm_env, capsys):
    assert run(nm_env, "pipeline.steps=[ingest,fan_out]", verb="plan") == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if "fan_out" in line)
    assert re.search(r"fan_out\s*│\s*2\s*│\s*0\s*│\s*2\s*│", row)
    assert "shard=0" not in out
    assert main(["plan", "--tasks", *base_overrides(nm_env, "pipeline.steps=[ingest,fan_out]")]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.split()[1:2] == ["fan_out"] and "│" not in line]
    assert [line.split()[2] for line in lines] == ["shard=0", "shard=1"]
    assert all(line.split()[-1] == "1" for line in lines)  # both after task #1, ingest


@pytest.mark.slow
def test_plan_gpu_hours_come_from_the_cost_model_or_are_marked_as_bounds(tmp_path, capsys):
    over = ["experiment=paper/table4_aops_vs_se", "launcher=slurm", f"paths.outputs={tmp_path}", "generate.shards=2"]
    assert main(["plan", *over]) == 0
    out = capsys.readouterr().out
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]] for line in out.splitlines()
            if line.startswith("│")}
    assert "cluster: 256 GPUs (32 nodes x 8)" in out
    train, gen = rows["train_stage"], rows["generate"]
    assert train[3] == "32n 8g 32c 1440m" and not train[4].startswith("≤")
    assert float(train[4].replace(",", "")) > 0
    assert gen[4].startswith("≤ ") and gen[5].startswith("≤ ")
    assert "≤: an upper bound from the tasks' time limits" in out


def test_wall_clock_is_the_longer_of_the_chain_and_the_cluster_capacity():
    def task(key, deps=(), gpus=8):
        return Task("s", "1", key, inputs={f"i{d}": d for d in deps}, resources=Resources(gpus=gpus))

    costs = {k: TaskCost(80.0, 10.0, True) for k in "abcd"}
    side_by_side = [task(k) for k in "abcd"]
    assert _wall_hours(side_by_side, costs, gpus=32) == 10.0      # 4 slots of 8 GPUs
    assert _wall_hours(side_by_side, costs, gpus=16) == 20.0      # 2 slots
    chain = [task("a"), task("b", "a"), task("c", "b"), task("d", "c")]
    assert _wall_hours(chain, costs, gpus=256) == 40.0           # stages one after another


# --- status -------------------------------------------------------------------------------------

def test_status_lists_tasks_in_dag_order_with_their_params(nm_env, capsys):
    assert run(nm_env, "pipeline.steps=[ingest,fan_out,counted]") == 0
    capsys.readouterr()
    rd = last_run(nm_env)
    assert main(["status", str(rd.path)]) == 0
    rows = [line.split("│")[1:3] for line in capsys.readouterr().out.splitlines() if line.startswith("│")]
    shown = [(s.strip(), p.strip()) for s, p in rows if s.strip()]
    assert shown == [("ingest", "-"), ("fan_out", "shard=0"), ("fan_out", "shard=1"), ("counted", "-")]


def test_dag_order_without_a_recorded_order_puts_inputs_first():
    def entry(step, params, inputs):
        return {"task": {"step": step, "params": params, "inputs": inputs}}

    tasks = {"k1": entry("z_last", {}, {"a": "k3"}), "k2": entry("b", {"shard": 1}, {}),
             "k3": entry("b", {"shard": 0}, {})}
    assert dag_order(tasks) == ["k3", "k2", "k1"]


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_status_marks_the_unfinished_tasks_of_a_dead_orchestrator_interrupted(nm_env, capsys):
    assert run(nm_env, "pipeline.steps=[ingest,counted]") == 0
    rd = last_run(nm_env)
    key = next(k for k, t in rd.tasks().items() if t["task"]["step"] == "counted")
    rd.set_state(key, "running", started=time.time())
    info = rd.info()
    del info["ended"]
    info["orchestrator"] = {"pid": _dead_pid(), "host": socket.gethostname()}
    rd.save_run_info(info)
    capsys.readouterr()
    assert main(["status", str(rd.path)]) == 0
    out = capsys.readouterr().out
    assert "interrupted" in out and "running" not in out.replace("was running", "")
    assert main(["status", "--outputs", str(nm_env / "outputs")]) == 0
    assert "1 interrupted" in capsys.readouterr().out
    # on another host: judged by the heartbeat
    info["orchestrator"] = {"pid": 1, "host": "another-host"}
    rd.save_run_info(info)
    (rd.path / "heartbeat").touch()
    assert main(["status", str(rd.path)]) == 0
    assert "interrupted" not in capsys.readouterr().out
    old = time.time() - HEARTBEAT_STALE_S - 5
    os.utime(rd.path / "heartbeat", (old, old))
    assert main(["status", str(rd.path)]) == 0
    assert "interrupted" in capsys.readouterr().out
    # on this host, a live pid whose heartbeat stopped (the pid now belongs to another process)
    info["orchestrator"] = {"pid": os.getpid(), "host": socket.gethostname()}
    rd.save_run_info(info)
    assert main(["status", str(rd.path)]) == 0
    assert "interrupted" in capsys.readouterr().out


@pytest.mark.slow
def test_killing_the_orchestrator_shows_its_run_as_interrupted(nm_env, monkeypatch, capsys):
    proc, _ = start_run_that_sleeps_mid_step(nm_env, monkeypatch)
    rd = last_run(nm_env)
    assert json.loads((rd.path / "run.json").read_text())["orchestrator"]["pid"] == proc.pid
    assert (rd.path / "heartbeat").exists()
    assert main(["status", str(rd.path)]) == 0
    assert "running" in capsys.readouterr().out  # alive: its task runs
    worker = next(s["pid"] for s in rd.states().values() if s.get("state") == "running")
    os.killpg(proc.pid, signal.SIGKILL)
    os.killpg(worker, signal.SIGKILL)
    proc.wait()
    assert main(["status", str(rd.path)]) == 0
    out = capsys.readouterr().out
    assert "interrupted: its orchestrator is gone" in out
    row = next(line for line in out.splitlines() if "partial_then_sleep" in line)
    assert "interrupted" in row


# --- planning speed: memoised config selects ------------------------------------------------------

def test_cached_selects_give_the_same_values_and_a_step_cannot_edit_the_cache():
    from omegaconf import OmegaConf

    from nmframe.engine.step import cached_selects, select

    cfg = OmegaConf.create({"a": {"b": [1, 2]}, "c": "${x}", "x": 3})
    plain = select(cfg, "a", "c")
    with cached_selects():
        first = select(cfg, "a", "c")
        first["a"]["b"].append(9)
        first["c"] = 0
        assert select(cfg, "a", "c") == plain == {"a": {"b": [1, 2]}, "c": 3}
