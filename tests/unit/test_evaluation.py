"""Evaluation: configs, metric values on hand-built graded records, the evaluate step's plan."""
import json
import math

import pytest

from nmframe.config import compose
from nmframe.engine.dag import DagError, build_dag
from nmframe.evaluation import config_label, parse_configs, score
from nmframe.evaluation.model import EvaluateError, backend_kind, student_weights


def test_parse_configs_order_labels_and_errors():
    cs = parse_configs(["high/tir", "low/notir"])
    assert [(c.mode, c.tir, c.name, c.label) for c in cs] == [("high", True, "high/tir", "high, TIR"),
                                                             ("low", False, "low/notir", "low, no TIR")]
    assert config_label("medium", False) == "medium, no TIR"
    with pytest.raises(ValueError, match="'huge/tir' is not"):
        parse_configs(["huge/tir"])
    with pytest.raises(ValueError, match="twice"):
        parse_configs(["high/tir", "HIGH/tir"])


def _rec(pid, subset, i, ans, outcome, tokens=100):
    return {"problem_id": pid, "subset": subset, "sample_index": i, "predicted_answer": ans, "outcome": outcome,
            "tokens": tokens, "expected_answer": {"a": "1", "b": "2", "c": "3"}[pid]}


def hand_built():
    """a: 3/4 correct, "1" majority; b: 1/4 correct, wrong majority "7" ("07" votes with "7");
    c (other subset): 2 correct, 1 ungraded, 1 without answer -> 2/3 over graded."""
    return ([_rec("a", "aime24", i, x, o) for i, (x, o) in enumerate([("1", "correct"), ("1", "correct"),
                                                                       ("1.0", "correct"), ("5", "wrong")])]
            + [_rec("b", "aime24", i, x, o, 200) for i, (x, o) in enumerate([("2", "correct"), ("7", "wrong"),
                                                                              ("07", "wrong"), ("9", "wrong")])]
            + [_rec("c", "aime25", i, x, o) for i, (x, o) in enumerate([("3", "correct"), ("3", "correct"),
                                                                         ("x", "ungraded"), (None, "wrong")])])


def test_metric_values_on_hand_built_records():
    m = score(hand_built(), ks=(1, 4))
    a24 = m["by_subset"]["aime24"]
    assert a24["problems"] == 2 and a24["samples"] == 8
    assert a24["pass@1"] == pytest.approx(0.5)                       # (3/4 + 1/4) / 2
    assert a24["pass@1_se"] == pytest.approx(0.25)                    # sd([.75,.25]) / sqrt(2)
    assert a24["maj@4"] == pytest.approx(0.5)                         # a right, b wrong ("7" x2 beats "2")
    assert a24["pass@4"] == pytest.approx(1.0)
    assert a24["mean_tokens"] == pytest.approx(150.0)
    a25 = m["by_subset"]["aime25"]
    assert a25["pass@1"] == pytest.approx(2 / 3)                      # ungraded left out, never wrong
    assert a25["pass@1_all"] == pytest.approx(0.5) and a25["ungraded_rate"] == pytest.approx(0.25)
    assert a25["no_answer_rate"] == pytest.approx(0.25) and a25["ungraded_samples"] == 1
    assert a25["maj@4"] == pytest.approx(1.0)
    o = m["overall"]
    assert o["problems"] == 3 and o["pass@1"] == pytest.approx((0.75 + 0.25 + 2 / 3) / 3)
    lo, hi = o["pass@1_ci"]
    assert 0.0 <= lo <= o["pass@1"] <= hi <= 1.0
    json.dumps(m)  # plain JSON


def test_judged_majority_uses_the_judges_outcomes():
    recs = [{"problem_id": "h", "subset": "hle-math", "sample_index": i, "predicted_answer": a, "outcome": o,
             "reference_answer": "RuBisCO"} for i, (a, o) in enumerate([("rubisco", "correct"), ("rubisco", "correct"),
                                                                         ("PEP", "wrong"), ("rubisco", "correct")])]
    m = score(recs, ks=(1, 4))
    assert m["overall"]["maj@4"] == 1.0 and m["overall"]["pass@1"] == pytest.approx(0.75)


def test_backend_choice():
    assert backend_kind(compose(["experiment=quickstart"], check=False)) == "hf"
    assert backend_kind(compose(["model=qwen3_8b"], check=False)) == "vllm"
    assert backend_kind(compose(["evaluate.model=builtin:tiny"], check=False)) == "hf"


def test_megatron_checkpoint_is_a_clear_error(tmp_path):
    (tmp_path / "checkpoint" / "iter_0000001").mkdir(parents=True)
    with pytest.raises(EvaluateError, match="converted to a Hugging Face directory"):
        student_weights(tmp_path)


def test_student_needs_train_stage_in_the_pipeline(tmp_path):
    cfg = compose([f"paths.outputs={tmp_path}", "pipeline.steps=[ingest,evaluate]"])
    with pytest.raises(DagError, match="put train_stage before evaluate"):
        build_dag(cfg)


def test_evaluate_fans_out_per_benchmark_and_config_and_keys_on_the_model(tmp_path):
    over = [f"paths.outputs={tmp_path}", "pipeline.steps=[evaluate]", "evaluate.model=builtin:tiny",
            "evaluate.configs=[high/tir,low/notir]", "evaluate.benchmarks=[comp-math-24-25,hle-math]"]
    tasks = build_dag(compose(over)).tasks
    assert [(t.params["benchmark"], t.params["mode"], t.params["tir"]) for t in tasks] == [
        ("comp-math-24-25", "high", True), ("comp-math-24-25", "low", False),
        ("hle-math", "high", True), ("hle-math", "low", False)]
    assert tasks[0].config_slice["samples"] == 16 and tasks[2].config_slice["samples"] == 4
    assert tasks[2].config_slice["benchmark_files"] == "MISSING: None"
    assert "tir.max_calls" in tasks[0].config_slice and "tir.max_calls" not in tasks[1].config_slice
    other = build_dag(compose(over[:-1] + ["evaluate.benchmarks=[comp-math-24-25]", "evaluate.model=/m/x",
                                          "evaluate.prompt_format=harmony"])).tasks
    assert other[0].key != tasks[0].key
    same = build_dag(compose(over + ["evaluate.batch_size=3", "evaluate.cpus=2"])).tasks
    assert [t.key for t in same] == [t.key for t in tasks]  # speed knobs are not part of the key


@pytest.mark.slow
def test_paper_evaluation_resources_are_gpus(tmp_path):
    cfg = compose([f"paths.outputs={tmp_path}", "experiment=paper/table4_aops_vs_se"])
    ev = [t for t in build_dag(cfg).tasks if t.step == "evaluate"]
    assert len(ev) == 12 and {t.resources.gpus for t in ev} == {8}
    assert math.isclose(ev[0].resources.gpu_hours(), 8 * 720 / 60)
