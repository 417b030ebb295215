"""The answer steps end to end through `nmframe run`: classify -> decontaminate ->
validate_answers -> filter_trivial -> filter_correct on six hand-made problems, with a scripted
stand-in for the generate step (registered through NMFRAME_PLUGINS, this module), and the
triviality filter from released rows' metadata with classify's rules_llm method.

Scripted samples (4 per mode x TIR setting, so 8 high and 8 low per problem; first 4 with TIR):
  easy  (gold 5):     high all 5; low all 5 -> 8/8 = 1.0 > 0.8: trivial
  fix   (gold 61):    high 016 x3, 16 x3, 15 x2 -> none agrees: replaced by 16;
                      low 16 x4, 15 x4 -> 4/8 kept; traces kept: 6 high + 4 low = 10
  fill  (no gold):    high 0.5 x3, 1/2 x2, \\frac{1}{2}, 2 x2 -> filled with 0.5 (6 votes);
                      low 1/2 x6, no answer x2 -> 6/8 = 0.75 kept; traces kept: 6 + 6 = 12
  none  (no gold):    no answers at all -> stays without answer, removed by filter_trivial
  proof:              removed by classify;  bench (an AIME 2025 problem): removed by decontaminate
"""
import hashlib
import json
import os
from pathlib import Path

import pytest

from nmframe.engine import Resources, Step, TaskSpec, register_step

REPO = Path(__file__).resolve().parents[2]
BENCH_PROBLEM = json.loads((REPO / "nmframe/data/benchmarks/comp-math-24-25.jsonl").read_text().splitlines()[0])

PROBLEMS = [
    {"id": "easy", "problem": "What is $2+3$?", "expected_answer": "5", "data_source": "aops"},
    {"id": "fix", "problem": "Compute the value of $4 \\cdot 4$.", "expected_answer": "61", "data_source": "aops"},
    {"id": "fill", "problem": "Find $x$ such that $2x = 1$.", "data_source": "stackexchange"},
    {"id": "none", "problem": "Find the number of real solutions of the given system.", "data_source": "stackexchange"},
    {"id": "proof", "problem": "Prove that there are infinitely many primes.", "data_source": "aops"},
    {"id": "bench", "problem": BENCH_PROBLEM["problem"], "expected_answer": "70", "data_source": "aops"},
]
SCRIPT = {
    "easy": {"high": ["5"] * 8, "low": ["5"] * 8},
    "fix": {"high": ["016"] * 3 + ["16"] * 3 + ["15"] * 2, "low": ["16"] * 4 + ["15"] * 4},
    "fill": {"high": ["0.5"] * 3 + ["1/2"] * 2 + ["\\frac{1}{2}", "2", "2"], "low": ["1/2"] * 6 + [None] * 2},
}


@register_step
class ScriptedGenerate(Step):
    """Stand-in for `generate`: same fan-out params and record fields, answers from a script."""
    name = "scripted_generate"
    VERSION = "1"
    inputs = ("ingest",)

    def tasks(self, cfg, dag):
        return [TaskSpec(params={"mode": str(m), "tir": bool(t), "seed": 0, "shard": 0},
                         inputs={"ingest": dag.one("ingest")})
                for m in cfg.mode.efforts for t in cfg.tir.enabled]

    def config_slice(self, cfg, params):
        script = os.environ.get("NMFRAME_SCRIPTED_SAMPLES", "")
        return {"script": hashlib.sha256(Path(script).read_bytes()).hexdigest() if script else None,
                "num_samples": int(cfg.teacher.num_samples)}

    def resources(self, cfg, params):
        return Resources(cpus=1, time_min=5)

    def run(self, ctx):
        script = json.loads(Path(os.environ["NMFRAME_SCRIPTED_SAMPLES"]).read_text())
        n, p = int(ctx.cfg.teacher.num_samples), ctx.params
        offset = 0 if p["tir"] else n
        with open(ctx.out_dir / "samples.jsonl", "w") as out:
            for line in open(ctx.inputs["ingest"] / "problems.jsonl"):
                prob = json.loads(line)
                answers = script.get(prob["id"], {}).get(p["mode"], [None] * (2 * n))
                for i in range(n):
                    ans = answers[offset + i]
                    out.write(json.dumps({
                        "problem_id": prob["id"], "problem": prob["problem"], "mode": p["mode"],
                        "tir": p["tir"], "seed": i, "sample_index": i, "data_source": prob["data_source"],
                        "completion": f"<|channel|>final<|message|>\\boxed{{{ans}}}" if ans else "no box",
                        "final_answer": ans}) + "\n")


def scripted_classifier(cfg):
    """LLM stand-in (prep.backend): 'yes' to the proof prompt for texts with 'Prove', 'no' to it
    otherwise, malformed replies to every other prompt."""
    def backend(prompt):
        if "asks for a proof" in prompt:
            return "Judgement: yes" if "Prove" in prompt.split("Problem:")[1] else "Judgement: no"
        return "Sorry, I cannot tell."
    return backend


def artifact(out: Path, step: str) -> Path:
    dirs = [d for d in (out / "artifacts" / step).iterdir() if (d / "manifest.json").is_file()]
    assert len(dirs) == 1, dirs
    return dirs[0]


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture
def plugin_env(tmp_path, monkeypatch):
    script = tmp_path / "script.json"
    script.write_text(json.dumps(SCRIPT))
    monkeypatch.setenv("NMFRAME_PLUGINS", "tests.integration.test_answer_steps")
    monkeypatch.setenv("NMFRAME_SCRIPTED_SAMPLES", str(script))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.chdir(REPO)
    return tmp_path


@pytest.mark.slow
def test_answer_pipeline_end_to_end(plugin_env):
    from nmframe.cli import main

    tmp = plugin_env
    data = tmp / "problems.jsonl"
    data.write_text("".join(json.dumps(p) + "\n" for p in PROBLEMS))
    out = tmp / "out"
    rc = main(["run", "experiment=quickstart", f"paths.outputs={out}", "tracking.wandb_mode=disabled",
               f"source.files=[{{path:{data},schema:canonical}}]", "mode=all", "mode.efforts=[high,low]",
               "tir=both", "teacher.num_samples=4", "answers.samples_step=scripted_generate",
               "answers.workers=1",
               "pipeline.steps=[ingest,classify,decontaminate,scripted_generate,validate_answers,"
               "filter_trivial,filter_correct]"])
    assert rc == 0

    cls = json.loads((artifact(out, "classify") / "report.json").read_text())
    assert (cls["total"], cls["kept"], cls["removed"]) == (6, 5, 1)
    assert cls["by_reason"] == {"ok": 5, "proof": 1} and cls["rules"] == {"prove": 1}
    assert cls["by_data_source"]["aops"]["by_reason"] == {"ok": 3, "proof": 1}

    dec = json.loads((artifact(out, "decontaminate") / "report.json").read_text())
    assert dec["removed"] == 1 and dec["removed_by_benchmark_subset"] == {"aime25": 1}
    removed = rows(artifact(out, "decontaminate") / "removed.jsonl")
    assert removed[0]["id"] == "bench" and removed[0]["prep"]["decontam"]["match"]["benchmark_id"] == "aime25-0"
    assert removed[0]["prep"]["decontam"]["decided_by"] == "rule"

    va = artifact(out, "validate_answers")
    probs = {p["id"]: p for p in rows(va / "problems.jsonl")}
    assert set(probs) == {"easy", "fix", "fill", "none"}
    pick = lambda p: (p["expected_answer"], p["original_expected_answer"], p["changed_answer_to_majority"])  # noqa: E731
    assert pick(probs["easy"]) == ("5", "5", False)
    assert pick(probs["fix"]) == ("16", "61", True)
    assert pick(probs["fill"]) == ("0.5", None, False)
    assert pick(probs["none"]) == (None, None, False)
    status = {r["problem_id"]: r["status"] for r in rows(va / "validation.jsonl")}
    assert status == {"easy": "kept", "fix": "replaced", "fill": "filled", "none": "no_answer"}
    rep = json.loads((va / "report.json").read_text())
    assert rep["sample_tasks"] == 2 and rep["samples"] == 6 * 8 and rep["samples_of_unknown_problems"] == 16
    assert rep["by_data_source"]["stackexchange"]["by_reason"] == {"filled": 1, "no_answer": 1}

    tr = artifact(out, "filter_trivial")
    assert {p["id"] for p in rows(tr / "problems.jsonl")} == {"fix", "fill"}
    decisions = {d["id"]: d for d in rows(tr / "decisions.jsonl")}
    assert (decisions["easy"]["passes"], decisions["easy"]["count"], decisions["easy"]["reason"]) == (8, 8, "trivial")
    assert decisions["fill"]["pass_rate"] == 0.75 and decisions["fix"]["pass_rate"] == 0.5
    assert decisions["none"]["reason"] == "no expected_answer"
    trep = json.loads((tr / "report.json").read_text())
    assert trep["source"] == "samples" and trep["by_reason"] == {"kept": 2, "no expected_answer": 1, "trivial": 1}

    fc = artifact(out, "filter_correct")
    traces = rows(fc / "traces.jsonl")
    assert len(traces) == 22
    assert sum(t["problem_id"] == "fix" for t in traces) == 10
    assert {t["expected_answer"] for t in traces if t["problem_id"] == "fill"} == {"0.5"}
    assert all(t["kept"] for t in traces)
    crep = json.loads((fc / "report.json").read_text())
    assert crep["by_reason"] == {"correct": 22, "no answer": 2, "problem removed": 64, "wrong": 8}
    # fix: high [016 016 016 16 | 16 16 15 15], low [16 x4 | 15 x4];
    # fill: high [0.5 0.5 0.5 1/2 | 1/2 \frac12 2 2], low [1/2 x4 | 1/2 1/2 - -]  (TIR | no TIR)
    assert crep["kept_per_mode_tir"] == {"high/tir=False": 4, "high/tir=True": 8,
                                         "low/tir=False": 2, "low/tir=True": 8}
    metrics = json.loads((fc / "metrics.json").read_text())
    assert metrics["kept"] == 22 and metrics["reason/wrong"] == 8


RELEASED = [
    # with tool 8/8 + without 6/8 = 14/16 = 0.875 > 0.8 -> trivial
    {"problem": "Find $1+1$ in the simplest way possible.", "expected_answer": "2", "data_source": "aops",
     "metadata": {"reason_low_with_tool": {"count": 8, "pass": 8, "accuracy": 1.0},
                  "reason_low_no_tool": {"count": 8, "pass": 6, "accuracy": 0.75}}},
    # 5/8 + 3/8 = 0.5 -> kept
    {"problem": "Find the least prime greater than $100$.", "expected_answer": "101", "data_source": "stackexchange",
     "metadata": {"reason_low_with_tool": {"count": 8, "pass": 5, "accuracy": 0.625},
                  "reason_low_no_tool": {"count": 8, "pass": 3, "accuracy": 0.375}}},
    # exactly 0.8 (8/10): kept with the strict default
    {"problem": "Compute $3^4$ and give the result.", "expected_answer": "81", "data_source": "aops",
     "metadata": {"reason_low_with_tool": {"count": 5, "pass": 4, "accuracy": 0.8},
                  "reason_low_no_tool": {"count": 5, "pass": 4, "accuracy": 0.8}}},
    # a proof problem the rules settle (a proof, and no value asked)
    {"problem": "Prove that $\\sqrt{2}$ is irrational.", "expected_answer": "0", "data_source": "aops",
     "metadata": {}},
    # proof rule and a value asked: the LLM decides (yes to the proof prompt)
    {"problem": "Let $p$ be an odd prime. Prove that $p^2-1$ is divisible by $8$ and find the quotient for $p=5$.",
     "expected_answer": "3", "data_source": "aops", "metadata": {}},
    # no rule, no value asked: the LLM's replies are unreadable or "no" -> no decision, held
    {"problem": "Consider the sequence $a_n = n^2 + 1$ for positive integers $n$.", "expected_answer": "1",
     "data_source": "stackexchange", "metadata": {}},
]


@pytest.mark.slow
def test_trivial_from_released_metadata_with_rules_llm_classifier(plugin_env):
    from nmframe.cli import main

    tmp = plugin_env
    data = tmp / "released.jsonl"
    data.write_text("".join(json.dumps({**r, "messages": [{"role": "user", "content": r["problem"]}]}) + "\n"
                            for r in RELEASED))
    out = tmp / "out"
    rc = main(["run", "experiment=quickstart", f"paths.outputs={out}", "tracking.wandb_mode=disabled",
               f"source.files=[{{path:{data},schema:released}}]", "filters.classify_method=rules_llm",
               "prep.backend=tests.integration.test_answer_steps:scripted_classifier",
               "pipeline.steps=[ingest,classify,filter_trivial]"])
    assert rc == 0
    cls = json.loads((artifact(out, "classify") / "report.json").read_text())
    assert cls["method"] == "rules_llm" and (cls["kept"], cls["removed"], cls["undecided"]) == (3, 2, 1)
    assert cls["by_reason"] == {"ok": 3, "proof": 2, "undecided": 1}
    assert cls["by_decided_by"] == {"llm": 1, "none": 1, "rule": 4}
    # only the two problems the rules leave open are asked, one prompt per category
    assert cls["llm_replies"] == {"invalid: unreadable": 2, "multiple_choice: unreadable": 2, "proof: yes": 1,
                                  "proof: no": 1, "yes_no: unreadable": 1}
    removed = {r["problem"][:10]: r["prep"]["classify"] for r in rows(artifact(out, "classify") / "removed.jsonl")}
    assert removed["Prove that"] == {"decided_by": "rule", "reason": "prove: Prove (asks for no value)",
                                     "category": "proof"}
    assert removed["Let $p$ be"] == {"decided_by": "llm", "reason": "llm: proof", "category": "proof"}
    held = rows(artifact(out, "classify") / "undecided.jsonl")
    assert [r["prep"]["classify"]["decided_by"] for r in held] == ["none"]
    assert held[0]["prep"]["classify"]["reason"].startswith("no decision: unreadable reply for invalid: ")

    tr = artifact(out, "filter_trivial")
    rep = json.loads((tr / "report.json").read_text())
    assert rep["source"] == "metadata"
    assert rep["by_reason"] == {"kept": 2, "trivial": 1}
    assert rep["by_data_source"]["aops"] == {"total": 2, "kept": 1, "removed": 1, "undecided": 0,
                                             "by_reason": {"kept": 1, "trivial": 1}}
    d = {r["reason"]: r for r in rows(tr / "decisions.jsonl")}
    assert (d["trivial"]["passes"], d["trivial"]["count"]) == (14, 16)
