"""The README's CPU comparison of AoPS-only and AoPS+SE (paper Table 4) end to end:
`nmframe run -m experiment=quickstart source=aops,aops_se teacher=tiny && nmframe report quickstart`."""
import csv
import json

import pytest

from nmframe.cli import main


@pytest.mark.slow
def test_quickstart_sweep_aops_vs_aops_se_runs_and_reports_the_paired_comparison(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "outputs"
    over = [f"paths.outputs={out}", "tracking.wandb_mode=disabled"]
    assert main(["run", "-q", "-m", "experiment=quickstart", "source=aops,aops_se", "teacher=tiny", *over]) == 0
    (run,) = [p for p in (out / "runs").iterdir()]
    tasks = json.loads((run / "tasks.json").read_text())
    # the points' problems differ from ingest on, so no task is shared (the tiny models are built once)
    assert {tuple(e["points"]) for e in tasks.values()} == {(0,), (1,)}
    assert len([e for e in tasks.values() if e["task"]["step"] == "evaluate"]) == 12   # 6 configs per point
    ingests = sorted((out / "artifacts" / "ingest").glob("[0-9a-f]*"))
    per_source = sorted(tuple(sorted(json.loads((a / "report.json").read_text())["per_data_source"].items()))
                        for a in ingests)
    assert per_source == [(("aops", 10),), (("aops", 10), ("stackexchange", 11))]
    capsys.readouterr()

    # a rerun computes nothing and is not the run the report reads
    assert main(["run", "-q", "-m", "experiment=quickstart", "source=aops,aops_se", "teacher=tiny", *over]) == 0
    assert f"reads run {run.name}" in " ".join(capsys.readouterr().out.split())

    assert main(["report", "quickstart", "--outputs", str(out)]) == 0
    md = (run / "report" / "report.md").read_text()
    assert "Variants: AoPS, AoPS+SE." in md
    assert "| AoPS | high, TIR |" in md and "| AoPS+SE | high, TIR |" in md
    assert "| 92.67 (100.00) |" in md and "| 94.58 (100.00) |" in md   # Table 4 AIME24 high/TIR: AoPS, AoPS+SE
    assert "## Paired comparisons" in md
    paired = [line for line in md.splitlines() if line.startswith("| AoPS | AoPS+SE | comp-math-24-25 |")]
    assert len(paired) == 6 * 4   # six configs x (three subsets + pooled)
    rows = list(csv.DictReader(open(run / "report" / "report.csv")))
    assert {r["variant"] for r in rows} == {"AoPS", "AoPS+SE"} and len(rows) == 2 * 6 * 4
