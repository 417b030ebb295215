"""Every experiment file composes, validates and plans without the paper's data; sweeps that
differ downstream share upstream tasks; dry runs print sbatch scripts."""
import re

import pytest

from nmframe.cli import main
from nmframe.config import compose, compose_points, conf_dir
from nmframe.engine.dag import build_dag
from nmframe.engine.orchestrate import make_plan
from nmframe.report.manifest import all_manifests

EXPERIMENTS = sorted(str(p.relative_to(conf_dir() / "experiment").with_suffix(""))
                     for p in (conf_dir() / "experiment").rglob("*.yaml"))
PAPER = [e for e in EXPERIMENTS if e.startswith("paper/")]
PAPER_TRAINING = [e for e in PAPER if e != "paper/table5_base_model"]  # the base-model row only evaluates


def test_the_paper_experiments_exist():
    assert PAPER == ["paper/full_recipe", "paper/lr_sweep", "paper/model_8b_vs_30b", "paper/table3",
                     "paper/table4_aops_vs_se", "paper/table5_base_model", "paper/table5_bucketed_vs_full"]


@pytest.mark.parametrize("exp", EXPERIMENTS)
def test_experiment_file_header_composes_validates_and_plans(exp, tmp_path):
    if exp == "quickstart_parallel" and not (conf_dir() / "teacher" / "tiny_vllm.yaml").exists():
        pytest.skip("its teacher=tiny_vllm is not in conf/teacher on this branch")
    lines = (conf_dir() / "experiment" / f"{exp}.yaml").read_text().splitlines()
    assert lines[0] == "# @package _global_" and lines[1].startswith("# ") and lines[2].startswith("# Run: nmframe ")
    cfg = compose([f"experiment={exp}", f"paths.outputs={tmp_path}", "paths.data=/nonexistent/data"])
    assert cfg.name == exp.split("/")[-1]
    plan = make_plan([([f"experiment={exp}"], cfg)])
    steps = [e.task.step for e in plan.entries]
    if list(cfg.pipeline.steps) == ["evaluate"]:  # a base model evaluated as it is
        assert set(steps) == {"evaluate"} and "/" in str(cfg.evaluate.model)
    else:
        assert steps[0] == "ingest" and steps[-1] == "evaluate" and "train_stage" in steps
    assert not (tmp_path / "artifacts").exists()  # planning has no side effects


@pytest.mark.parametrize("exp", PAPER_TRAINING)
def test_paper_plans_record_missing_data_and_use_the_papers_settings(exp, tmp_path):
    cfg = compose([f"experiment={exp}", f"paths.outputs={tmp_path}", "paths.data=/nonexistent/data"])
    tasks = build_dag(cfg).tasks
    ingest = next(t for t in tasks if t.step == "ingest")
    assert ingest.config_slice["files"] == ["MISSING: /nonexistent/data/nemotron-math-v2"]
    assert (cfg.teacher.model, cfg.teacher.temperature, cfg.teacher.top_p, cfg.teacher.max_tokens) == \
        ("openai/gpt-oss-120b", 1.0, 1.0, 120000)
    assert (cfg.trainer.lr, cfg.trainer.global_batch_size, cfg.evaluate.temperature, cfg.evaluate.max_tokens) == \
        (2e-4, 2048, 1.0, 120000)
    train = [t for t in tasks if t.step == "train_stage"]
    assert all(t.resources.gpus == 8 and t.resources.nodes == 32 for t in train)


def test_the_base_model_row_samples_qwen3_at_its_baseline_settings(tmp_path):
    cfg = compose(["experiment=paper/table5_base_model", f"paths.outputs={tmp_path}"])
    [task] = build_dag(cfg).tasks
    assert task.step == "evaluate" and task.params["mode"] == "high" and task.params["tir"] is False
    s = task.config_slice
    assert (s["evaluate.model"], s["evaluate.temperature"], s["evaluate.top_p"]) == ("Qwen/Qwen3-30B-A3B", 0.6, 0.95)
    assert s["samples"] == 16 and s["prompt_format"] == "chat"


def test_a_run_without_the_data_fails_with_a_clear_error(tmp_path, capsys):
    rc = main(["run", "-q", "experiment=paper/table3", f"paths.outputs={tmp_path}", "paths.data=/nonexistent/data",
               "tracking.wandb_mode=disabled", "--only", "ingest"])
    assert rc == 2  # refused at plan time, before any task starts
    assert "missing input file: source.files[0].path=/nonexistent/data/nemotron-math-v2" in capsys.readouterr().err


@pytest.mark.slow
def test_plan_shows_resources_and_gpu_hours(tmp_path, capsys):
    assert main(["plan", "--tasks", "experiment=paper/table4_aops_vs_se", "launcher=slurm",
                 f"paths.outputs={tmp_path}"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^\d+ +train_stage .* 32n 8g 32c 1440m +[\d,]+\.\d ", out, re.M)  # cost model
    assert re.search(r"^\d+ +evaluate .* 8g 8c 720m +≤ 96\.0 ", out, re.M)  # the time-limit bound
    assert re.search(r"│ total .*│ +≤ [\d,]+\.\d │", out)


def test_table5_sweep_plans_generation_once(tmp_path):
    points = compose_points(["experiment=paper/table5_bucketed_vs_full", "buckets=paper,single_128k",
                             f"paths.outputs={tmp_path}", "generate.shards=2"], multirun=True)
    plan = make_plan(points)
    by_step = {}
    for e in plan.entries:
        by_step.setdefault(e.task.step, []).append(e)
    one = len(build_dag(points[0][1]).tasks)
    assert len(by_step["generate"]) == 6 * 8 * 2           # once, not twice
    assert all(e.points == [0, 1] for e in by_step["generate"] + by_step["prepare_sft"])
    assert len(by_step["bucketize"]) == 2 and len(by_step["train_stage"]) == 4 + 1
    assert len(by_step["evaluate"]) == 12 and len(plan.entries) < 2 * one


def test_lr_sweep_shares_everything_but_training_and_evaluation(tmp_path):
    points = compose_points(["experiment=paper/lr_sweep", "trainer.lr=1e-4,2e-4", f"paths.outputs={tmp_path}",
                             "generate.shards=1"], multirun=True)
    plan = make_plan(points)
    shared = {e.task.step for e in plan.entries if e.points == [0, 1]}
    own = {e.task.step for e in plan.entries if len(e.points) == 1}
    assert own == {"train_stage", "evaluate"} and "pack" in shared and "generate" in shared


def test_dryrun_prints_sbatch_scripts(tmp_path, capsys):
    assert main(["run", "experiment=paper/table5_bucketed_vs_full", "launcher=dryrun", "launcher.dryrun_target=slurm",
                 "generate.shards=1", f"paths.outputs={tmp_path}", "tracking.wandb_mode=disabled", "-q"]) == 0
    out = capsys.readouterr().out
    assert out.count("#!/bin/bash") >= 60 and "#SBATCH --nodes=32" in out and "#SBATCH --gpus-per-node=8" in out
    assert not (tmp_path / "artifacts").exists()


def test_every_manifest_names_an_experiment_with_reference_numbers():
    names = {m["experiment"]: m for m in all_manifests()}
    assert set(names) == set(EXPERIMENTS)
    assert names["paper/table4_aops_vs_se"]["reference"]["AoPS+SE"]["high/tir"]["aime25"] == [97.29, 100]
    assert names["paper/table3"]["reference"]["OpenMathReasoning"]["high/notir"]["hmmt-24-25"] == [49.30, 63.21]
    assert names["paper/table5_bucketed_vs_full"]["reference"]["bucketed"]["low/tir"]["hmmt-24-25"] == [57.17, 67.30]


@pytest.mark.parametrize("exp", PAPER)
def test_paper_experiments_score_maj_at_k_as_the_authors_evaluator(exp):
    cfg = compose([f"experiment={exp}"])
    assert (str(cfg.metrics.vote), str(cfg.metrics.ties)) == ("exact", "average")


def test_quickstart_votes_on_equivalence_classes_and_bad_values_are_refused(capsys):
    cfg = compose(["experiment=quickstart"])
    assert (str(cfg.metrics.vote), str(cfg.metrics.ties)) == ("equivalence", "first")
    assert main(["plan", "experiment=quickstart", "metrics.vote=plurality"]) == 2
    assert "metrics.vote: Invalid value 'plurality', expected one of [exact, equivalence]" in capsys.readouterr().err
