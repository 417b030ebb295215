"""Pipelines match what is swept: the default pipeline is the recipe, and a sweep over a key that
no step of the pipeline reads is refused at plan time (a single override of one gets a warning)."""
from collections import Counter

import pytest
from omegaconf import OmegaConf

from nmframe.cli import main
from nmframe.config import compose
from nmframe.config.schema import RECIPE_STEPS
from nmframe.engine.dag import build_dag
from nmframe.engine.reads import KEYS_NO_STEP_READS, exempt, steps_reading

LR_SWEEP = "trainer.lr=1e-5,5e-5,1e-4,2e-4,5e-4"


def plan(capsys, *args):
    rc = main(["plan", *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_sweep_over_a_key_the_pipeline_does_not_read_is_refused(tmp_path, capsys):
    rc, out, err = plan(capsys, "-m", f"paths.outputs={tmp_path}", "pipeline.steps=[ingest]", LR_SWEEP)
    assert rc == 2 and "plan:" not in out
    assert err.strip() == ("invalid sweep: trainer.lr is read by no step of pipeline.steps=[ingest]; "
                           "steps that read it: train_stage")


def test_group_sweep_names_every_step_that_reads_it(tmp_path, capsys):
    rc, _, err = plan(capsys, "-m", f"paths.outputs={tmp_path}", "pipeline.steps=[ingest]", "mode=high,low")
    assert rc == 2 and "mode is read by no step of pipeline.steps=[ingest]; steps that read it: generate" in err


def test_a_key_no_step_keys_on_is_refused_with_none(tmp_path, capsys):
    rc, _, err = plan(capsys, "-m", f"paths.outputs={tmp_path}", "generate.cpus=1,2")
    assert rc == 2 and "generate.cpus is read by no step of pipeline.steps=[ingest,classify," in err
    assert "steps that read it: none (no step's output depends on it)" in err


def test_single_override_the_pipeline_does_not_read_warns_and_plans(tmp_path, capsys):
    rc, out, err = plan(capsys, f"paths.outputs={tmp_path}", "pipeline.steps=[ingest]", "trainer.lr=1e-4")
    assert rc == 0 and "1 tasks: 1 to run" in out
    assert ("warning: trainer.lr is read by no step of pipeline.steps=[ingest]; steps that read it: "
            "train_stage (the override enters no task's key)") in err


def test_exempt_keys_are_neither_refused_nor_warned(tmp_path, capsys):
    rc, out, err = plan(capsys, "-m", f"paths.outputs={tmp_path}", "pipeline.steps=[ingest]",
                        "tracking.project=a,b", "metrics.vote=exact", "name=x")
    assert rc == 0 and err == "" and "(2 points)" in out
    assert exempt("launcher.slurm.partition") and exempt("evaluate.alpha") and not exempt("evaluate.max_tokens")
    assert set(KEYS_NO_STEP_READS) >= {"launcher", "paths", "hydra", "name", "pipeline"}


def test_default_pipeline_is_the_recipe_and_the_lr_sweep_shares_everything_upstream(tmp_path, capsys):
    assert list(compose([]).pipeline.steps) == list(RECIPE_STEPS)
    rc, out, err = plan(capsys, "-m", f"paths.outputs={tmp_path}", "experiment=quickstart", LR_SWEEP)
    assert rc == 0 and err == "" and "(5 points)" in out
    rows = [[c.strip() for c in line.split("│")[1:3]] for line in out.splitlines() if line.startswith("│")]
    steps = {step: int(n) for step, n in rows if n.isdigit()}   # the per-step summary: step, tasks
    # the quickstart: 3 bucket stages, 6 evaluation configs; 2 modes x 2 tir x 1 sample for generate
    assert steps["train_stage"] == 5 * 3 and steps["evaluate"] == 5 * 6
    assert {s: steps[s] for s in ("ingest", "generate", "prepare_sft", "pack")} == \
        {"ingest": 1, "generate": 4, "prepare_sft": 1, "pack": 3}


@pytest.mark.parametrize("key,readers", [
    ("trainer.lr", ["train_stage"]),
    ("source", ["extract_problems", "ingest", "stream_released"]),
    ("teacher.temperature", ["generate"]),
    ("buckets.seed", ["bucketize"]),
    ("filters.trivial_threshold", ["filter_trivial", "stream_released"]),
])
def test_registered_readers_come_from_the_steps_declarations(key, readers):
    assert steps_reading(key) == readers


def _signature(cfg) -> dict:
    """Per step: its tasks' fan-out params and config slices (what the step itself reads)."""
    out: dict = {}
    for t in build_dag(cfg).tasks:
        out.setdefault(t.step, []).append((repr(sorted(t.params.items())), repr(t.config_slice)))
    return {k: sorted(v) for k, v in out.items()}


def _perturbed_keys(keys, overrides):
    """(key, steps whose tasks change when the key changes) for each numeric or boolean key; None
    where the changed value makes the config invalid (a stage length no longer a multiple of 128)."""
    base = compose(overrides)
    plain = OmegaConf.to_container(base)
    before = _signature(base)
    for key in keys:
        value = OmegaConf.select(base, key)
        new = (not value) if isinstance(value, bool) else value + 1 if isinstance(value, int) else value * 0.5 + 0.01
        cfg = OmegaConf.create(plain)
        OmegaConf.update(cfg, key, new)
        try:
            after = _signature(cfg)
        except (ValueError, KeyError):  # ConfigError, DagError, a layout that no longer divides
            yield key, None
            continue
        yield key, {s for s in set(before) | set(after) if before.get(s) != after.get(s)}


def test_declared_reads_cover_what_changes_a_step_quick():
    keys = ["trainer.lr", "teacher.max_tokens", "buckets.final_mix_fraction", "answers.grade_timeout_s",
            "evaluate.max_tokens", "sft.pack_seed", "generate.max_problems", "trainer.global_batch_size"]
    for key, changed in _perturbed_keys(keys, ["experiment=quickstart"]):
        assert changed, key  # each of these keys changes some task of the quickstart
        assert changed <= set(steps_reading(key)), (key, changed)


@pytest.mark.slow
def test_declared_reads_cover_what_changes_a_step_for_every_number_and_flag():
    """Every numeric or boolean key of the quickstart (with the LLM-backed filters and the bin fill on):
    a step whose tasks change when the key changes declares the key, so no sweep it matters to is refused."""
    overrides = ["experiment=quickstart", "sft.fill_long_bins=true", "filters.classify_method=rules_llm",
                 "filters.decontam_method=rules_llm", "prep.backend=teacher", "answers.judge=teacher"]
    plain = OmegaConf.to_container(compose(overrides))
    keys = []

    def walk(node, prefix):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{prefix}.{k}" if prefix else k)
        elif isinstance(node, (bool, int, float)) and not exempt(prefix):
            keys.append(prefix)

    walk(plain, "")
    assert len(keys) > 50
    checked = 0
    for key, changed in _perturbed_keys(keys, overrides):
        if changed is not None:
            assert changed <= set(steps_reading(key)), (key, changed)
            checked += bool(changed)
    assert checked > 20
