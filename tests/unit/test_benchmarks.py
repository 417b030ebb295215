"""Benchmarks: registry, shipped Comp-Math file, HLE schema and its judge's three outcomes."""
import json
import logging

import pytest
from omegaconf import OmegaConf

from nmframe.benchmarks import Benchmark, BenchmarkError, get_benchmark, list_benchmarks, register_benchmark
from nmframe.benchmarks.hle_math import render_judge_prompt
from nmframe.config import compose


@pytest.fixture(scope="module")
def cfg():
    return compose([], check=False)


def test_registry_lists_builtins_and_refuses_a_second_name():
    assert list_benchmarks() == ["comp-math-24-25", "hle-math"]
    with pytest.raises(ValueError, match="registered twice"):
        @register_benchmark
        class Clash(Benchmark):  # noqa: F811
            name = "hle-math"
            VERSION = "1"
    with pytest.raises(KeyError, match="unknown benchmark 'aime'"):
        get_benchmark("aime")


def test_declarations():
    cm, hle = get_benchmark("comp-math-24-25"), get_benchmark("hle-math")
    assert (cm.samples, cm.grader, cm.VERSION, cm.subsets) == (16, "math-verify", "1", ("aime24", "aime25", "hmmt-24-25"))
    assert (hle.samples, hle.grader) == (4, "llm-judge")
    assert cm.ks(16) == (1, 16) and hle.ks(4) == (1, 4)
    assert "maj@16" in cm.metric_names(16) and "pass@1_se" in cm.metric_names(16)
    assert cm.prompt("What is 1+1?") == ("What is 1+1?\nPlease reason step by step, and put your final answer "
                                         "within \\boxed{}.")


def test_comp_math_loads_the_shipped_file(cfg):
    probs, rep = get_benchmark("comp-math-24-25").load(cfg)
    assert len(probs) == 256 and rep.kept == 256 and not rep.skipped
    assert [sum(p["subset"] == s for p in probs) for s in ("aime24", "aime25", "hmmt-24-25")] == [30, 30, 196]
    assert probs[0] == {"id": "aime25-0", "problem": probs[0]["problem"], "expected_answer": "70",
                        "subset": "aime25", "data_source": "comp-math-24-25"}
    capped, rep = get_benchmark("comp-math-24-25").load(cfg, max_problems=2)
    assert len(capped) == 6 and rep.capped == 250


def _hle_cfg(tmp_path, rows, **ev):
    f = tmp_path / "hle.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    c = OmegaConf.create(OmegaConf.to_container(compose([], check=False)))
    c.evaluate.hle_math_file = str(f)
    for k, v in ev.items():
        c.evaluate[k] = v
    return c


HLE_ROWS = [
    {"id": "h1", "question": "Find x.", "answer": "3", "image": "", "category": "Math"},
    {"id": "h2", "question": "Find y.", "answer": "5", "category": "Math"},
    {"id": "h3", "question": "See the figure.", "answer": "1", "image": "data:image/png;base64,AAA", "category": "Math"},
    {"id": "h4", "question": "Which enzyme?", "answer": "RuBisCO", "category": "Biology/Medicine"},
    {"id": "h5", "question": "No answer here"},
]


def test_hle_schema_skips_images_other_categories_and_rows_without_answer(tmp_path):
    c = _hle_cfg(tmp_path, HLE_ROWS)
    probs, rep = get_benchmark("hle-math").load(c)
    assert [p["id"] for p in probs] == ["h1", "h2"]
    assert rep.skipped == {"has an image (text-only set)": 1, "category is not Math": 1, "no answer": 1}


def test_hle_file_missing_is_a_clear_error(cfg):
    with pytest.raises(BenchmarkError, match="set evaluate.hle_math_file"):
        get_benchmark("hle-math").load(cfg)


def _sample(pid, i, answer, final=None):
    msgs = [{"role": "user", "content": "q"}]
    if final is not None:
        msgs.append({"role": "assistant", "content": final})
    return {"problem_id": pid, "sample_index": i, "final_answer": answer, "messages": msgs,
            "tokens": {"completion": 10 + i}, "finish_reason": "stop"}


def test_hle_judge_three_outcomes_and_no_answer_is_wrong(tmp_path, caplog):
    c = _hle_cfg(tmp_path, HLE_ROWS, judge_workers=2)
    probs, _ = get_benchmark("hle-math").load(c)
    by_id = {p["id"]: p for p in probs}
    seen = []

    def judge(prompt):
        seen.append(prompt)
        if "MARK-yes" in prompt:
            return "extracted_final_answer: 3\nreasoning: same\nJudgement: yes"
        if "MARK-no" in prompt:
            return "reasoning: differs\n**Judgement:** no"
        if "MARK-raise" in prompt:
            raise TimeoutError("judge down")
        return "I am not sure."  # no judgement line

    samples = [_sample("h1", 0, "3", "so \\boxed{3} MARK-yes"), _sample("h1", 1, "4", "\\boxed{4} MARK-no"),
               _sample("h2", 0, "5", "\\boxed{5} MARK-maybe"), _sample("h2", 1, "5", "\\boxed{5} MARK-raise"),
               _sample("h2", 2, None)]
    with caplog.at_level(logging.WARNING):
        recs = get_benchmark("hle-math").grade(samples, by_id, c, log=logging.getLogger("t"), judge=judge)
    assert [r["outcome"] for r in recs] == ["correct", "wrong", "ungraded", "ungraded", "wrong"]
    assert [r["grade_reason"] for r in recs] == ["judge: yes", "judge: no", "judge: no judgement",
                                                 "judge: error: TimeoutError", "no final answer"]
    assert len(seen) == 4  # no prompt for the sample without an answer
    assert "[correct_answer]: 3" in seen[0] and "[question]: Find x." in seen[0] and "MARK-yes" in seen[0]
    assert all("expected_answer" not in r and r["reference_answer"] in ("3", "5") for r in recs)
    assert "2 of 4 judge replies had no readable judgement" in caplog.text


def test_hle_without_judge_is_an_error(tmp_path):
    c = _hle_cfg(tmp_path, HLE_ROWS)
    with pytest.raises(BenchmarkError, match="evaluate.judge"):
        get_benchmark("hle-math").grade([], {}, c, judge=None)


def test_judge_prompt_keeps_latex_braces():
    p = render_judge_prompt("Compute $\\frac{1}{2}$", "\\boxed{0.5}", "{1/2}")
    assert "$\\frac{1}{2}$" in p and "[correct_answer]: {1/2}" in p and p.rstrip().endswith('"Judgement: no" otherwise, '
                                                                                           "i.e. if there is any inconsistency, ambiguity, non-equivalency, or if the extracted answer is incorrect.")


def test_comp_math_grading_uses_math_verify(cfg):
    bench = get_benchmark("comp-math-24-25")
    probs = {"aime25-0": {"id": "aime25-0", "expected_answer": "70", "subset": "aime25"}}
    samples = [_sample("aime25-0", 0, "70"), _sample("aime25-0", 1, "070"), _sample("aime25-0", 2, "71"),
               _sample("aime25-0", 3, None)]
    recs = bench.grade(samples, probs, cfg)
    assert [r["outcome"] for r in recs] == ["correct", "correct", "wrong", "wrong"]
    assert recs[0]["tokens"] == 10 and recs[0]["subset"] == "aime25" and recs[0]["expected_answer"] == "70"
