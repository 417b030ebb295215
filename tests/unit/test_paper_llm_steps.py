"""The paper experiments run the paper's LLM steps (classify, decontaminate, answer judge, HLE-Math judge) on a
served Qwen2.5-32B-Instruct, and the plan shows them with the GPUs of that model; the quickstart stays heuristic."""
from __future__ import annotations

from pathlib import Path

import pytest

from nmframe.cli import main
from nmframe.config import compose
from nmframe.engine.dag import build_dag
from nmframe.errors import ConfigError

CONF = Path(__file__).resolve().parents[2] / "conf" / "experiment" / "paper"
EVALUATION_ONLY = {"table5_base_model"}  # evaluates a base model on Comp-Math (math-verify): no LLM step
PAPER = sorted(p.stem for p in CONF.glob("*.yaml") if p.stem not in EVALUATION_ONLY)
JUDGE = "Qwen/Qwen2.5-32B-Instruct"


def tasks(*overrides):
    return build_dag(compose(list(overrides))).tasks


def one(ts, step):
    (t,) = [t for t in ts if t.step == step]
    return t


@pytest.mark.parametrize("name", PAPER)
def test_paper_experiment_plans_llm_steps_on_the_served_judge_with_its_gpus(name):
    ts = tasks(f"experiment=paper/{name}", "generate.shards=1")
    for step, key in (("classify", "filters.classify_method"), ("decontaminate", "filters.decontam_method")):
        t = one(ts, step)
        assert t.config_slice[key] == "rules_llm"
        assert t.config_slice["llm"] == {"backend": "judge_llm", "model": JUDGE, "kind": "vllm",
                                         "reasoning_effort": "low", "max_tokens": 4096, "temperature": 0.0}
        assert (t.resources.gpus, t.resources.nodes) == (4, 1)
    v = one(ts, "validate_answers")
    assert v.config_slice["answers.judge"]["model"] == JUDGE and v.resources.gpus == 4


def test_served_judge_resources_follow_its_config():
    ts = tasks("experiment=paper/full_recipe", "generate.shards=1", "prep.judge_llm.tensor_parallel_size=16")
    assert (one(ts, "classify").resources.gpus, one(ts, "classify").resources.nodes) == (8, 2)
    ts = tasks("experiment=paper/full_recipe", "generate.shards=1", "prep.judge_llm.backend=openai",
               "prep.judge_llm.endpoint=http://judge:8000/v1")
    assert one(ts, "decontaminate").resources.gpus == 0  # a running server: the task only sends requests
    hle = [t for t in tasks("experiment=paper/full_recipe", "generate.shards=1", "evaluate.tensor_parallel_size=2")
           if t.step == "evaluate"]
    by_bench = {t.params["benchmark"]: t.resources.gpus for t in hle}
    assert by_bench == {"comp-math-24-25": 2, "hle-math": 4}  # the judge serves after the model, on >= its GPUs
    assert {t.config_slice["judge_llm"]["model"] for t in hle if t.params["benchmark"] == "hle-math"} == {JUDGE}


def test_quickstart_stays_heuristic_on_cpu():
    ts = tasks("experiment=quickstart")
    for step in ("classify", "decontaminate", "validate_answers"):
        t = one(ts, step)
        assert t.resources.gpus == 0 and "llm" not in t.config_slice and not t.config_slice.get("answers.judge")
    assert one(ts, "classify").config_slice["filters.classify_method"] == "heuristic"
    assert one(ts, "decontaminate").config_slice["filters.decontam_method"] == "ngram"


def test_switching_a_paper_experiment_back_to_heuristics():
    ts = tasks("experiment=paper/full_recipe", "generate.shards=1", "filters.classify_method=heuristic",
               "filters.decontam_method=ngram", "answers.judge=null")
    assert all(one(ts, s).resources.gpus == 0 for s in ("classify", "decontaminate", "validate_answers"))


def test_judge_llm_named_without_a_model_is_one_clear_error():
    with pytest.raises(ConfigError, match=r"prep.backend='judge_llm': names the served LLM prep.judge_llm, which "
                                          r"is not set \(allowed: a judge_llm group choice, e.g. "
                                          r"judge_llm=qwen2_5_32b_instruct\)"):
        compose(["experiment=quickstart", "prep.backend=judge_llm"])
    with pytest.raises(ConfigError, match="prep.judge_llm.backend='nope': unknown generation backend"):
        compose(["experiment=quickstart", "judge_llm=qwen2_5_32b_instruct", "prep.judge_llm.backend=nope"])


def test_plan_command_shows_the_llm_steps(tmp_path, capsys):
    out = tmp_path / "outputs"
    assert main(["plan", "experiment=paper/full_recipe", "launcher=dryrun", "generate.shards=1",
                 f"paths.outputs={out}"]) == 0
    text = capsys.readouterr().out
    assert ("LLM steps: classify (filters.classify_method=rules_llm), decontaminate (filters.decontam_method=rules_llm), "
            "validate_answers (answers.judge), evaluate hle-math (evaluate.judge) -> judge_llm "
            "Qwen/Qwen2.5-32B-Instruct (vllm, TP4)") in " ".join(text.split())
    classify_row = next(line for line in text.splitlines() if "│ classify " in line)
    assert "4g 2c 600m" in classify_row
    assert main(["plan", "experiment=quickstart", "launcher=dryrun", f"paths.outputs={out}"]) == 0
    text = capsys.readouterr().out
    assert "LLM steps: none (heuristic curation, math-verify answer agreement)" in text
    assert "g " not in next(line for line in text.splitlines() if "│ classify " in line).split("│")[6]


def test_readme_commands_for_the_llm_steps(tmp_path, capsys):
    import shlex

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    cmds = [line.split("#")[0].strip() for line in readme.splitlines()
            if line.startswith("nmframe plan experiment=paper/table3 launcher=dryrun")]
    assert len(cmds) == 2
    outputs = []
    for cmd in cmds:
        argv = shlex.split(cmd)
        assert argv[0] == "nmframe" and main([*argv[1:], f"paths.outputs={tmp_path / 'o'}"]) == 0
        outputs.append(" ".join(capsys.readouterr().out.split()))
    assert ("LLM steps: classify (filters.classify_method=rules_llm), decontaminate (filters.decontam_method=rules_llm), "
            "validate_answers (answers.judge) -> judge_llm Qwen/Qwen2.5-32B-Instruct (vllm, TP4)") in outputs[0]
    assert "LLM steps: none (heuristic curation, math-verify answer agreement)" in outputs[1]
