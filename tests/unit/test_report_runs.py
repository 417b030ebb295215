"""Reports over any run or sweep: variants named by what differs between points, one line (never a
traceback) for a run or file a report cannot be made from, no-op reruns passed over by find_run.

Run directories here are written by hand (points composed from the real configs, small record
files), so no step runs.
"""
import json

import pytest

from nmframe.cli import main
from nmframe.config import compose
from nmframe.engine.runs import RunDir, find_run
from nmframe.report.collect import collect_run, variant_labels
from nmframe.report.manifest import find_manifest
from nmframe.report.tables import comparisons

SUBSETS = ("aime24", "aime25")


def _records(correct: list[int]) -> list[dict]:
    """Two samples of one problem per subset; ``correct`` holds the outcome of each record."""
    rows, it = [], iter(correct)
    for s in SUBSETS:
        for i in range(2):
            ok = next(it)
            rows.append({"problem_id": f"{s}-0", "subset": s, "sample_index": i, "predicted_answer": "1" if ok else "2",
                         "outcome": "correct" if ok else "wrong", "expected_answer": "1", "tokens": 10})
    return rows


def make_run(tmp_path, point_overrides: list[list[str]], correct: list[list[int]] | None = None,
             evaluate: bool = True, name: str = "run") -> RunDir:
    """A finished run of the quickstart with one evaluate task (high/notir) per point."""
    outputs = tmp_path / "outputs"
    base = ["experiment=quickstart", f"paths.outputs={outputs}", "tracking.wandb_mode=disabled"]
    cfgs = [compose(base + o) for o in point_overrides]
    rd = RunDir.create(outputs / "runs", [" ".join(o) for o in point_overrides], label=name)
    rels = rd.save_points(cfgs)
    tasks = {}
    for i in range(len(cfgs)):
        key = f"{i:016x}"
        step = "evaluate" if evaluate else "ingest"
        params = {"benchmark": "comp-math-24-25", "mode": "high", "tir": False} if evaluate else {}
        tasks[key] = {"task": {"step": step, "params": params, "inputs": {}}, "point": rels[i], "points": [i]}
        if evaluate:
            art = outputs / "artifacts" / "evaluate" / key
            art.mkdir(parents=True)
            (art / "scores.json").write_text(json.dumps({"ks": [1, 2], "model": {"tiny": True, "label": "tiny"}}))
            recs = _records((correct or [[0, 0, 0, 0]] * len(cfgs))[i])
            (art / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    rd.save_tasks(tasks)
    rd.save_run_info({"name": "quickstart", "overrides": [base + o for o in point_overrides],
                      "artifacts": str(outputs / "artifacts"), "started": 1.0, "ran_tasks": len(tasks)})
    return rd


def report(tmp_path, target, capsys):
    rc = main(["report", str(target), "--outputs", str(tmp_path / "outputs"), "--no-plots"])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_points_of_one_named_variant_are_named_by_their_differing_overrides(tmp_path):
    """Both lr points match the quickstart's one variant ("tiny student"): pooled, their records
    clashed (duplicate sample_index); now each is its own variant, compared pairwise."""
    rd = make_run(tmp_path, [["trainer.lr=1e-4"], ["trainer.lr=2e-4"]], [[0, 0, 0, 0], [1, 1, 1, 0]])
    data = collect_run(rd.path)
    assert data.variants == ["trainer.lr=1e-4", "trainer.lr=2e-4"]
    assert sorted(e.variant for e in data.evals) == data.variants
    assert all(len(e.records) == 4 for e in data.evals)
    comps, _ = comparisons(data)
    pooled = next(c for c in comps if c["subset"] == "comp-math-24-25")
    assert (pooled["a"], pooled["b"], pooled["pass@1_a"], pooled["pass@1_b"]) == (
        "trainer.lr=1e-4", "trainer.lr=2e-4", 0.0, 75.0)


def test_named_variants_win_where_they_match_one_point():
    m = find_manifest("quickstart")
    base = ["experiment=quickstart", "tracking.wandb_mode=disabled"]
    cfgs = [compose(base + [f"source={s}"]) for s in ("aops", "aops_se", "sample")]
    overrides = [base + [f"source={s}"] for s in ("aops", "aops_se", "sample")]
    assert variant_labels(cfgs, overrides, m) == ["AoPS", "AoPS+SE", "tiny student"]
    # two sample points with different learning rates share "tiny student": their overrides name them
    cfgs = [compose(base + ["source=aops", "trainer.lr=1e-4"]), compose(base + ["source=sample", "trainer.lr=1e-4"]),
            compose(base + ["source=sample", "trainer.lr=0.0002"])]
    overrides = [base + ["source=aops", "trainer.lr=1e-4"], base + ["source=sample", "trainer.lr=1e-4"],
                 base + ["source=sample", "trainer.lr=0.0002"]]
    assert variant_labels(cfgs, overrides, m) == ["AoPS", "source=sample trainer.lr=1e-4",
                                                  "source=sample trainer.lr=0.0002"]


def test_equal_values_spelled_differently_do_not_differ():
    base = ["experiment=quickstart", "tracking.wandb_mode=disabled"]
    overrides = [base + ["trainer.lr=1e-4", "trainer.max_steps=2"], base + ["trainer.lr=0.0001", "trainer.max_steps=3"]]
    labels = variant_labels([compose(o) for o in overrides], overrides, None)
    assert labels == ["trainer.max_steps=2", "trainer.max_steps=3"]


def test_one_point_is_its_named_variant_or_run():
    cfg = compose(["experiment=quickstart"])
    assert variant_labels([cfg], [["experiment=quickstart"]], find_manifest("quickstart")) == ["tiny student"]
    assert variant_labels([cfg], [["experiment=quickstart"]], None) == ["run"]


def test_report_of_a_sweep_writes_both_variants(tmp_path, capsys):
    rd = make_run(tmp_path, [["source=aops"], ["source=aops_se"]], [[0, 0, 0, 0], [1, 0, 1, 0]])
    rc, out, err = report(tmp_path, rd.path, capsys)
    assert rc == 0, err
    md = (rd.path / "report" / "report.md").read_text()
    assert "Variants: AoPS, AoPS+SE." in md
    assert "## Paired comparisons" in md and ("| AoPS | AoPS+SE | comp-math-24-25 | high, no TIR | Comp-Math (all) | 2 | 0.00 | 50.00 | +50.00 |"
                                              in md)


def test_broken_record_file_is_one_line_naming_file_and_line(tmp_path, capsys):
    rd = make_run(tmp_path, [["trainer.lr=1e-4"]])
    recs = next((tmp_path / "outputs" / "artifacts" / "evaluate").glob("*/records.jsonl"))
    recs.write_text(recs.read_text() + '{"problem_id": "aime24-1", "sample_ind\n')
    rc, out, err = report(tmp_path, rd.path, capsys)
    assert rc == 1
    assert err.strip().count("\n") == 0 and "Traceback" not in err + out
    assert f"{recs}:5: malformed JSON" in err


def test_records_that_cannot_be_scored_name_the_file(tmp_path, capsys):
    rd = make_run(tmp_path, [["trainer.lr=1e-4"]])
    recs = next((tmp_path / "outputs" / "artifacts" / "evaluate").glob("*/records.jsonl"))
    lines = recs.read_text().splitlines()
    recs.write_text("\n".join(lines + [lines[0]]) + "\n")   # the same sample twice
    rc, out, err = report(tmp_path, rd.path, capsys)
    assert rc == 1 and "Traceback" not in err + out
    assert str(recs) in err and "duplicate sample_index 0 for problem 'aime24-0'" in err


def test_empty_run_is_one_line(tmp_path, capsys):
    rd = RunDir.create(tmp_path / "outputs" / "runs", ["experiment=quickstart"], label="quickstart")
    rd.save_tasks({})
    rc, out, err = report(tmp_path, rd.path, capsys)
    assert rc == 1 and "Traceback" not in err + out
    assert err.strip() == f"nmframe report: run {rd.path}: empty (no sweep points): nothing to report"


def test_run_without_evaluate_writes_a_report_that_says_so(tmp_path, capsys):
    rd = make_run(tmp_path, [["trainer.lr=1e-4"]], evaluate=False)
    rc, out, err = report(tmp_path, rd.path, capsys)
    assert rc == 0, err
    assert f"note: {rd.path} has no evaluation results" in " ".join(out.split())
    md = (rd.path / "report" / "report.md").read_text()
    assert "No evaluation results yet." in md and "this run has no evaluate task" in md


def test_unknown_target_is_one_line(tmp_path, capsys):
    rc, out, err = report(tmp_path, "no-such-experiment", capsys)
    assert rc == 2 and "no run or experiment named 'no-such-experiment'" in " ".join(err.split())
    assert "Traceback" not in err + out


def test_a_run_that_ran_nothing_is_not_the_latest_run(tmp_path):
    runs = tmp_path / "outputs" / "runs"
    made = []
    for started, ran in ((1.0, 5), (2.0, 0), (3.0, 0)):
        rd = RunDir.create(runs, ["experiment=quickstart"], label="quickstart")
        rd.save_tasks({})
        rd.save_run_info({"name": "quickstart", "overrides": [["experiment=quickstart"]], "started": started,
                          "ran_tasks": ran})
        made.append(rd.path)
    assert find_run("quickstart", runs).path == made[0]
    assert find_run(made[2].name, runs).path == made[2]   # named explicitly, it is still found
    (made[0] / "run.json").write_text(json.dumps({"name": "quickstart", "started": 1.0, "ran_tasks": 0}))
    assert find_run("quickstart", runs).path == made[2]   # only no-op runs: the latest of them


@pytest.mark.parametrize("ran", [None, 3])
def test_runs_that_ran_something_or_predate_the_mark_count(tmp_path, ran):
    runs = tmp_path / "outputs" / "runs"
    made = []
    for started in (1.0, 2.0):
        rd = RunDir.create(runs, ["experiment=quickstart"], label="quickstart")
        rd.save_tasks({})
        info = {"name": "quickstart", "started": started}
        if ran is not None:
            info["ran_tasks"] = ran
        rd.save_run_info(info)
        made.append(rd.path)
    assert find_run("quickstart", runs).path == made[1]
