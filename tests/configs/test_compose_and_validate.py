"""Every config composes; invalid overrides fail before anything runs, naming key, value, allowed."""
from pathlib import Path

import pytest

from nmframe.cli import build_parser, groups_help, main
from nmframe.config import ConfigError, OverrideError, compose, compose_points, conf_dir, group_choices

PAPER_30B = ["model=qwen3_30b_a3b", "trainer=megatron", "buckets=paper"]


def test_every_config_file_starts_with_a_comment_and_run_line():
    for path in conf_dir().rglob("*.yaml"):
        lines = path.read_text().splitlines()
        assert lines[0].startswith("#"), f"{path} must start with a comment"
        assert any(l.startswith("# Run: nmframe") for l in lines[:4]), f"{path} needs a '# Run:' line"


@pytest.mark.parametrize("group", ["source", "mode", "tir", "buckets", "launcher", "teacher"])
def test_every_choice_of_simple_groups_composes(group):
    for choice in group_choices()[group]:
        cfg = compose([f"{group}={choice}"], check=False)
        assert cfg[group].name == choice.split("/")[-1]


@pytest.mark.parametrize("model", ["qwen3_8b", "qwen3_30b_a3b"])
@pytest.mark.parametrize("buckets", ["paper", "single_128k"])
def test_paper_models_validate_with_their_parallelism(model, buckets):
    cfg = compose([f"model={model}", "trainer=megatron", f"buckets={buckets}"])
    assert cfg.parallelism.model == model  # the map follows the model choice
    assert cfg.trainer.nodes * cfg.trainer.gpus_per_node == 256


def test_paper_values_come_through():
    cfg = compose(PAPER_30B + ["teacher=gpt_oss_120b", "mode=all", "tir=both"])
    assert cfg.parallelism.stages["ctx16k"] == {"tp": 4, "cp": 2, "ep": 4, "etp": 1, "pp": 1, "micro_batch_size": 1}
    assert cfg.parallelism.stages["ctx128k"]["cp"] == 8
    assert [s.max_len for s in cfg.buckets.stages] == [16384, 32768, 65536, 131072]
    assert (cfg.trainer.lr, cfg.trainer.weight_decay, cfg.trainer.adam_eps, cfg.trainer.grad_clip) == (2e-4, 0.01, 1e-8, None)
    assert cfg.trainer.global_batch_size == 2048
    assert (cfg.teacher.temperature, cfg.teacher.top_p, cfg.teacher.max_tokens, cfg.teacher.num_samples) == (1.0, 1.0, 120000, 8)
    assert list(cfg.mode.efforts) == ["high", "medium", "low"] and list(cfg.tir.enabled) == [True, False]
    assert (cfg.tir.max_calls, cfg.tir.output_chars, cfg.tir.call_timeout_s) == (100, 1000, 10.0)


@pytest.mark.parametrize("override, expected", [
    (["trainer.lrr=1"], "unknown key 'trainer.lrr'"),
    (["trainer.lrr=1"], "did you mean 'trainer.lr'?"),
    (["trainer.lr=abc"], "trainer.lr: Value 'abc' of type 'str' could not be converted to Float"),
    (["trainer.precision=fp16"], "trainer.precision: Invalid value 'fp16', expected one of [bf16, fp8, fp32]"),
    (["mode.efforts=[hgh]"], "expected one of [high, medium, low]"),
    (["model=qwen9"], "Could not find 'model/qwen9'. Allowed: qwen3_30b_a3b, qwen3_8b, tiny"),
    (["launcher.slurm.partitio=gpu"], "did you mean 'launcher.slurm.partition'?"),
    (["nonsense=1"], "unknown key 'nonsense'"),
])
def test_invalid_override_message(override, expected):
    with pytest.raises(OverrideError) as e:
        compose(override)
    assert expected in str(e.value)


@pytest.mark.parametrize("override, key, text", [
    (PAPER_30B + ["trainer.nodes=3"], "trainer.global_batch_size", "not a multiple of micro_batch_size*DP"),
    (PAPER_30B + ["trainer.nodes=1", "trainer.gpus_per_node=6"], "parallelism.stages.ctx16k",
     "TP*CP*PP = 4*2*1 = 8 does not divide 6 GPUs"),
    (PAPER_30B + ["parallelism.stages.ctx16k.ep=256"], "parallelism.stages.ctx16k.ep", "does not divide model.num_experts=128"),
    (["model=qwen3_8b", "trainer=megatron", "buckets=paper", "parallelism=qwen3_30b_a3b"], "parallelism",
     "is the map for model 'qwen3_30b_a3b', but model=qwen3_8b"),
    (["model=qwen3_30b_a3b"], "parallelism.stages", "no layout for bucket stage 'ctx512'"),
    (["buckets.stages=[{name: a, max_len: 1024}, {name: b, max_len: 512}]"], "buckets.stages[1].max_len",
     "must be larger than the previous stage's 1024"),
    (["buckets.stages=[{name: a, max_len: 1000}]"], "buckets.stages[0].max_len", "multiple of 128"),
    (["trainer.precision=fp8"], "trainer.precision", "FP8 needs the megatron backend"),
    (["teacher.top_p=1.5"], "teacher.top_p", "must be in (0, 1]"),
])
def test_invalid_combination_names_key_and_reason(override, key, text):
    with pytest.raises(ConfigError) as e:
        compose(override)
    assert e.value.key == key
    assert text in str(e.value)


def test_unknown_step_is_refused_when_the_engine_builds_the_dag():
    from nmframe.engine.dag import build_dag

    cfg = compose(["pipeline.steps=[ingest,nope]"])  # composing knows no steps: they sit above the config
    with pytest.raises(ConfigError) as e:
        build_dag(cfg)
    assert e.value.key == "pipeline.steps[1]" and "unknown step" in str(e.value) and "ingest" in e.value.allowed


def test_sweep_without_multirun_is_refused():
    with pytest.raises(OverrideError, match="add -m"):
        compose_points(["trainer.lr=1e-4,2e-4"], multirun=False)


def test_sweep_expands_and_validates_every_point():
    points = compose_points(["trainer.lr=1e-4,2e-4", "mode=high,low"], multirun=True)
    assert len(points) == 4
    assert sorted((c.trainer.lr, c.mode.name) for _, c in points) == [
        (1e-4, "high"), (1e-4, "low"), (2e-4, "high"), (2e-4, "low")]
    with pytest.raises(ConfigError):  # one bad point fails the whole sweep before launch
        compose_points(PAPER_30B + ["trainer.nodes=32,3"], multirun=True)


def test_cli_refuses_invalid_override_with_exit_code_2(capsys):
    assert main(["plan", "trainer.lrr=1"]) == 2
    err = capsys.readouterr().err
    assert "invalid config" in err and "trainer.lrr" in err


def test_help_lists_groups_and_choices():
    text = groups_help()
    for g in ("source:", "mode:", "buckets:", "parallelism:", "launcher:", "experiment:"):
        assert g in text
    assert "qwen3_30b_a3b" in text and "quickstart" in text and "dryrun" in text
    assert "config groups" in build_parser().format_help()


def test_user_config_dir_adds_experiments(tmp_path):
    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "mine.yaml").write_text(
        "# @package _global_\n# my experiment\n# Run: nmframe plan experiment=mine\nname: mine\ntrainer:\n  lr: 5.0e-5\n")
    cfg = compose(["experiment=mine"], extra_dirs=[tmp_path])
    assert cfg.name == "mine" and cfg.trainer.lr == 5e-5
    assert "mine" in group_choices([tmp_path])["experiment"]


def test_outputs_path_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = compose(["paths.outputs=out"])
    assert cfg.paths.outputs == str(tmp_path / "out")
    assert cfg.paths.artifacts == str(tmp_path / "out" / "artifacts")
    assert Path(cfg.paths.runs).is_absolute()


def test_pipeline_missing_an_input_step_cannot_be_planned(capsys):
    assert main(["plan", "pipeline.steps=[generate]"]) == 2
    err = capsys.readouterr().err
    assert "cannot plan" in err and "needs problems from an earlier step" in err and "ingest" in err


def test_raw_source_plans_without_its_data(capsys):
    steps = "pipeline.steps=[extract_problems,extract_answers,classify,decontaminate,generate]"
    assert main(["plan", "source=stackexchange_raw", "paths.data=/nonexistent", steps,
                 "filters.classify_method=rules_llm", "filters.decontam_method=rules_llm"]) == 0
    assert "8 to run" in capsys.readouterr().out  # 4 preparation steps + generate: high x (tir, no tir) x 2 samples


def test_plan_compares_bucketed_schedule_with_one_long_stage(capsys):
    steps = "pipeline.steps=[ingest,generate,prepare_sft,bucketize,pack,train_stage]"
    assert main(["plan", *PAPER_30B, steps, "sft.input_step=generate"]) == 0
    line = [l for l in capsys.readouterr().out.splitlines() if l.startswith("training schedule")]
    assert len(line) == 1 and "bucketed" in line[0] and "everything at ctx128k" in line[0]
    speedup = float(line[0].rsplit("(", 1)[1].rstrip("x)"))
    assert speedup > 1.0  # shorter stages on smaller layouts never cost more in the model
    assert main(["plan", "experiment=quickstart"]) == 0  # CPU training: no GPU-hour comparison
    assert "training schedule" not in capsys.readouterr().out
