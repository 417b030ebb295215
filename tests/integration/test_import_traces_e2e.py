"""import_traces -> prepare_sft through the CLI: a three-arm sweep over tiny released Nemotron-Math
rows and OpenMathReasoning rows, matched problems, exact arm sizes, rendered with the chat template
on the tiny tokenizer."""
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nmframe.cli import main
from nmframe.harmony import user_prompt
from nmframe.problems import problem_id


def _fixtures(d: Path) -> tuple[Path, Path]:
    # released rows: problems 2-7, 3 traces each, high split (mode from the file name)
    rel = []
    for i in range(2, 8):
        for k in range(3):
            rel.append({"uuid": f"u{i}-{k}", "problem": f"problem {i}", "expected_answer": str(k), "data_source": "aops",
                        "messages": [{"role": "user", "content": user_prompt(f"problem {i}"), "reasoning_content": None},
                                     {"role": "assistant", "content": f"So \\boxed{{{k}}}.",
                                      "reasoning_content": f"released reasoning {k}"}],
                        "tools": [], "metadata": "{}"})
    released = d / "high_part00-00000-of-00001.parquet"
    pq.write_table(pa.Table.from_pylist(rel), released)
    # OpenMathReasoning rows: problems 0-5 (same texts, other case), 3 solutions each, a genselect row, a torn line
    omr = [{"problem": f"Problem {i}", "generated_solution": f"<think>omr thinking {k}</think>So \\boxed{{{k}}}.",
            "expected_answer": str(k), "inference_mode": "cot", "problem_source": "aops_c4"}
           for i in range(6) for k in range(3)]
    omr.append({**omr[0], "inference_mode": "genselect"})
    path = d / "omr.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in omr) + '{"problem": "torn\n')
    return released, path


def _args(tmp_path, released, omr, *extra):
    return ["experiment=quickstart", "pipeline.steps=[import_traces,prepare_sft]", "sft.input_step=import_traces",
            (f"sft.import_files=[{{label:nemotron,path:'{released}',schema:released}},"
            f"{{label:omr,path:'{omr}',schema:omr}}]"),
            "+sft.arms={nemotron:{nemotron:1.0},omr:{omr:1.0},mixed:{nemotron:0.5,omr:0.5}}",
            "sft.import_max_examples=8", "sft.import_match_problems=true", "tracking.wandb_mode=disabled",
            f"paths.outputs={tmp_path / 'out'}", *extra]


def _artifacts(tmp_path, step):
    out = {}
    for d in sorted((tmp_path / "out" / "artifacts" / step).iterdir()):
        if (d / "manifest.json").exists():
            out[d.name] = d
    return out


@pytest.mark.slow
def test_three_arms_import_match_mix_and_render(tmp_path, capsys):
    released, omr = _fixtures(tmp_path)
    # OpenMathReasoning text is not harmony: the plan stops before anything runs
    assert main(["run", "-q", *_args(tmp_path, released, omr, "sft.arm=mixed", "sft.template=harmony")]) == 2
    assert "train them with sft.template=chat" in capsys.readouterr().err
    assert not (tmp_path / "out" / "artifacts").exists()

    assert main(["run", "-q", "-m", *_args(tmp_path, released, omr, "sft.arm=nemotron,omr,mixed", "sft.template=chat")]) == 0
    arms = {}
    for d in _artifacts(tmp_path, "import_traces").values():
        rep = json.loads((d / "report.json").read_text())
        rows = [json.loads(line) for line in (d / "traces.jsonl").read_text().splitlines()]
        arms[rep["arm"]] = (rep, rows)
    assert set(arms) == {"nemotron", "omr", "mixed"}
    matched = {problem_id(f"problem {i}") for i in range(2, 6)}
    for (rep, rows) in arms.values():
        assert rep["match"]["matched_problems"] == 4 and rep["match"]["traces_on_matched"] == {"nemotron": 12, "omr": 12}
        assert len(rows) == 8 and {problem_id(r["problem"]) for r in rows} <= matched
        omr_src = rep["sources"][1]
        assert omr_src["rows"] == 20 and omr_src["filtered"] == {"genselect": 1}
        assert omr_src["malformed"] == {"bad_line": 1} and omr_src["malformed_examples"][0].startswith(f"{omr}:20: ")
    assert arms["nemotron"][0]["written"] == {"nemotron": 8} and arms["omr"][0]["written"] == {"omr": 8}
    assert arms["mixed"][0]["written"] == {"nemotron": 4, "omr": 4}
    # the mixed arm's halves are drawn from the single-source arms' draws (same seed, nested)
    for label in ("nemotron", "omr"):
        half = {r["origin"] for r in arms["mixed"][1] if r["source_label"] == label}
        assert half <= {r["origin"] for r in arms[label][1]}

    preps = [json.loads((d / "report.json").read_text()) for d in _artifacts(tmp_path, "prepare_sft").values()]
    assert len(preps) == 3
    for p in preps:
        assert p["rows"] == 8 and p["traces"] == 8 and p["skipped"] == {} and p["template"] == "chat"
        assert p["per_config"]["high/notir"]["traces"] == 8 and p["loss_tokens"] > 0
