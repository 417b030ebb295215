"""Report rendering: golden Markdown on hand-built results, CSV values, HTML, imports, paired tests.

After an intended change, NMFRAME_UPDATE_GOLDEN=1 rewrites the golden file (and fails); review the diff.
"""
import base64
import json
from pathlib import Path

import pytest

from nmframe.report import write_report
from nmframe.report.collect import EvalResult, ReportData, import_external, merge_scores
from nmframe.report.manifest import find_manifest, reference
from tests.helpers import check_golden

GOLDEN = Path(__file__).parent / "golden" / "report_table4.md"


def _records(acc_by_problem: dict[str, list[int]], subset_of) -> list[dict]:
    out = []
    for pid, oks in acc_by_problem.items():
        for i, ok in enumerate(oks):
            out.append({"problem_id": pid, "subset": subset_of(pid), "sample_index": i,
                        "predicted_answer": "1" if ok else "2", "outcome": "correct" if ok else "wrong",
                        "expected_answer": "1", "tokens": 1000 + 10 * i})
    return out


def hand_built() -> ReportData:
    sub = lambda pid: pid.split("-")[0]  # noqa: E731
    a = {f"aime24-{i}": [1, 1, 0, 0] for i in range(4)} | {f"aime25-{i}": [1, 0, 0, 0] for i in range(4)}
    b = {f"aime24-{i}": [1, 1, 1, 1] for i in range(4)} | {f"aime25-{i}": [1, 1, 0, 0] for i in range(4)}
    data = ReportData(title="Table 4: AoPS-only vs AoPS + StackExchange-Math (Qwen3-30B-A3B)", source="hand-built",
                      experiment="table4_aops_vs_se", manifest=find_manifest("table4_aops_vs_se"),
                      variants=["AoPS", "AoPS+SE"])
    data.manifest = {**data.manifest, "path": "experiments/paper/table4_aops_vs_se.yaml"}
    data.evals = [EvalResult("AoPS", "comp-math-24-25", "high", False, _records(a, sub), (1, 4)),
                  EvalResult("AoPS+SE", "comp-math-24-25", "high", False, _records(b, sub), (1, 4))]
    merge_scores(data.evals, 0.05)
    data.buckets = [{"variant": "AoPS", "stage": "ctx16k", "max_len": 16384, "traces": 120, "tokens": 900000},
                    {"variant": "AoPS", "stage": "ctx32k", "max_len": 32768, "traces": 30, "tokens": 700000}]
    data.stage_times = [{"variant": "AoPS", "stage": "ctx16k", "index": 0, "steps": 10, "measured_s": 18.4,
                         "predicted_s": 17.9, "final_loss": 0.61, "prediction_error": "", "backend": "megatron"}]
    return data


def test_manifest_reference_numbers():
    m = find_manifest("paper/table4_aops_vs_se")
    assert reference(m, "AoPS", "high/tir", "aime24") == (92.67, 100)
    assert reference(m, "AoPS+SE", "low/notir", "hle-math") == (4.10, None)
    assert reference(find_manifest("lr_sweep"), "lr=2e-4", "high/notir", "comp-math-24-25") == (54.39, None)
    t5 = find_manifest("table5_bucketed_vs_full")
    assert reference(t5, "full 128K", "medium/tir", "aime25") == (86.67, 100)


def test_markdown_matches_golden(tmp_path):
    paths = write_report(hand_built(), tmp_path, plots=False)
    check_golden(GOLDEN, paths["md"].read_text())


def test_table_values_csv_and_paired_test(tmp_path):
    paths = write_report(hand_built(), tmp_path, plots=False)
    md = paths["md"].read_text()
    # AoPS AIME24: pass@1 50.00 (SE 0 over identical problems), maj@4: tie "1"/"2" -> first class "1" -> 100
    assert "| AoPS | high, no TIR | 50.00 ± 0.00 (100.00) | 86.88 (95.00) | -36.88 |" in md
    rows = paths["csv"].read_text().splitlines()
    assert rows[0].startswith("variant,benchmark,config,subset,problems,samples,k,pass@1,pass@1_se")
    se_a25 = [r for r in rows if r.startswith("AoPS+SE,comp-math-24-25,high/notir,aime25,")][0].split(",")
    assert se_a25[7] == "50.0000" and se_a25[17] == "86.4000" and se_a25[19] == "-36.4000"
    assert "| AoPS | AoPS+SE | comp-math-24-25 | high, no TIR | AIME24 | 4 | 50.00 | 100.00 | +50.00 |" in md
    assert "0.125 | 0.125 | no |" in md  # exact permutation p with 4 problems all better: 2/16


def test_html_is_self_contained_with_plots_and_tiny_banner(tmp_path):
    data = hand_built()
    data.tiny = True
    paths = write_report(data, tmp_path)
    html = paths["html"].read_text()
    assert html.startswith("<!doctype html>") and "Tiny model." in html and "about zero" in html
    imgs = html.count("src='data:image/png;base64,")
    assert imgs == 3 and "http" not in html.split("<body>")[0]
    png = base64.b64decode(html.split("src='data:image/png;base64,")[1].split("'")[0])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "accuracy_by_mode.png").is_file() and "![accuracy_by_mode.png]" in paths["md"].read_text()
    assert "> **Tiny model.**" in paths["md"].read_text()


def test_import_external_outputs(tmp_path):
    f = tmp_path / "elsewhere.jsonl"
    rows = [{"problem_id": "aime25-0", "sample_index": i, "predicted_answer": "70", "correct": ok}
            for i, ok in enumerate([True, True, False, None])]
    rows += [{"problem_id": "hmmt-feb-2025-0", "sample_index": 0, "predicted_answer": "1", "correct": False}]
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    e = import_external(f, "theirs", config="high/tir")
    assert (e.variant, e.mode, e.tir, e.ks) == ("theirs", "high", True, (1, 4))
    assert {r["subset"] for r in e.records} == {"aime25", "comp-math-24-25"} or {r["subset"] for r in e.records} >= {"aime25"}
    merge_scores([e], 0.05)
    assert e.metrics["by_subset"]["aime25"]["pass@1"] == pytest.approx(2 / 3)
    assert e.metrics["by_subset"]["aime25"]["ungraded_samples"] == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"problem_id": "x", "sample_index": 0, "correct": "maybe"}) + "\n")
    with pytest.raises(ValueError, match="bad.jsonl:1: correctness 'maybe'"):
        import_external(bad, "bad")
