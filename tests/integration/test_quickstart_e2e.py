"""The quickstart end to end on CPU (every step, tiny models), then `nmframe report` on it."""
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
    assert md.startswith("# Quickstart: the whole recipe with tiny random models on a CPU")
    assert "> **Tiny model.**" in md and "about zero" in md
    assert "filter_correct kept 0 of" in md and "sft.input_step" in md
    assert "| tiny student | high, TIR |" in md and "| 94.58 (100.00) |" in md  # the paper's AIME24 beside ours
    assert "## Traces per length bucket" in md and "## Stage step times" in md
    rows = list(csv.DictReader(open(rdir / "report.csv")))
    assert len(rows) == 6 * 4 and {r["config"] for r in rows} == {"high/tir", "high/notir", "medium/tir",
                                                                  "medium/notir", "low/tir", "low/notir"}
    assert all(float(r["pass@1"]) <= 100.0 and r["tiny"] == "True" for r in rows)
    html = (rdir / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3 and "Tiny model." in html
