"""The quickstart end to end on CPU (every step, replay teacher, tiny student), then `nmframe report` on it."""
import csv
import json

import pytest

from nmframe.cli import main


@pytest.mark.slow
def test_quickstart_runs_end_to_end_and_reports(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "outputs"
    assert main(["run", "-q", "experiment=quickstart", f"paths.outputs={out}", "tracking.wandb_mode=disabled"]) == 0
    steps = {p.name for p in (out / "artifacts").iterdir()}
    assert steps >= {"ingest", "classify", "decontaminate", "generate", "validate_answers", "filter_trivial",
                     "filter_correct", "prepare_sft", "bucketize", "pack", "train_stage", "evaluate"}
    # the replay teacher's Python calls ran in the sandbox, and its answers are sometimes right
    gens = [d for d in (out / "artifacts" / "generate").glob("[0-9a-f]*")]
    metrics = [json.loads((d / "manifest.json").read_text())["metrics"] for d in gens]
    summaries = [json.loads((d / "summary.json").read_text()) for d in gens]
    assert len(gens) == 4 and sum(m["tool_calls"] for m in metrics) > 0
    assert sum(s["sandbox"]["ok"] for s in summaries) > 0 and sum(s["records"] for s in summaries) == 24
    assert all(m["sandbox_isolation"]["mode"] != "unused" for m, s in zip(metrics, summaries) if s["params"]["tir"])
    trivial = json.loads(next((out / "artifacts" / "filter_trivial").glob("[0-9a-f]*/report.json")).read_text())
    assert 0 < trivial["by_data_source"]["sample"]["removed"] < 6  # low-mode passes graded: some are trivial
    kept = json.loads(next((out / "artifacts" / "filter_correct").glob("[0-9a-f]*/report.json")).read_text())
    assert kept["by_reason"]["correct"] > 0 and kept["by_reason"]["wrong"] > 0
    assert 0 < kept["kept"] < kept["total"] == 24
    # the student trains on filter_correct's traces, some in every length stage
    bucketize = json.loads(next((out / "artifacts" / "bucketize").glob("[0-9a-f]*/report.json")).read_text())
    assert [s["traces"] > 0 for s in bucketize["stages"]] == [True, True, True]
    assert sum(s["traces"] for s in bucketize["stages"]) == kept["kept"]
    evals = sorted((out / "artifacts" / "evaluate").glob("[0-9a-f]*"))
    assert len(evals) == 6
    scores = json.loads((evals[0] / "scores.json").read_text())
    assert scores["model"]["kind"] == "student" and scores["model"]["tiny"] is True
    assert scores["samples_per_problem"] == 2 and scores["problems"] == 3
    assert set(scores["by_subset"]) == {"aime24", "aime25", "hmmt-24-25"}
    assert scores["overall"]["samples"] == 6
    recs = [json.loads(line) for line in (evals[0] / "records.jsonl").read_text().splitlines()]
    assert len(recs) == 6 and {r["outcome"] for r in recs} <= {"correct", "wrong", "ungraded"}
    capsys.readouterr()

    assert main(["report", "quickstart", "--outputs", str(out)]) == 0
    rdir = next((out / "runs").iterdir()) / "report"
    md = (rdir / "report.md").read_text()
    assert md.startswith("# Quickstart: the whole recipe on a CPU (replay teacher, tiny random student)")
    assert "> **Tiny model.**" in md and "about zero" in md
    assert "the replay teacher: scripted traces" in md and "not found by a model" in md
    assert "sft.input_step" not in md  # trained on filter_correct's traces, as the recipe does
    assert "| tiny student | high, TIR |" in md and "| 94.58 (100.00) |" in md  # the paper's AIME24 beside ours
    assert "## Traces per length bucket" in md and "## Stage step times" in md
    rows = list(csv.DictReader(open(rdir / "report.csv")))
    assert len(rows) == 6 * 4 and {r["config"] for r in rows} == {"high/tir", "high/notir", "medium/tir",
                                                                  "medium/notir", "low/tir", "low/notir"}
    assert all(float(r["pass@1"]) <= 100.0 and r["tiny"] == "True" for r in rows)
    html = (rdir / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3 and "Tiny model." in html
