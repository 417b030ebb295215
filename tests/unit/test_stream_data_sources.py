"""stream_released on the release's own file layout, and data_source values it does not know: counted in the
summary, the step's metrics and one log line each, never dropped without a word."""
from __future__ import annotations

import json

from nmframe.cli import main
from tests.helpers import released_rows

BASE = ["pipeline.steps=[stream_released]", "tracking.wandb_mode=disabled", "buckets=tiny"]


def write_jsonl(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def release_layout(root):
    """data/high.part_00.jsonl, data/high.part_01.jsonl, data/medium.jsonl, data/low.jsonl, as released;
    every 5th row of each file comes from a data_source outside source.include_data_sources. Returns the
    folder and how many valid rows (with a uuid: the rows without one are dropped first, as invalid) say "foo"."""
    files = {"high.part_00": 0, "high.part_01": 40, "medium": 80, "low": 120}
    foo = 0
    for name, start in files.items():
        rows = released_rows(40, start=start)
        for i, r in enumerate(rows):
            if i % 5 == 0:
                r["data_source"] = "foo"
                foo += r["uuid"] is not None
        write_jsonl(root / "data" / f"{name}.jsonl", rows)
    return root / "data", foo


def run(tmp_path, data, *extra):
    out = tmp_path / "o"
    assert main(["run", *BASE, f"paths.outputs={out}", f"stream.files=[{data}]", *extra]) == 0
    (art,) = [p for p in (out / "artifacts" / "stream_released").iterdir() if (p / "manifest.json").exists()]
    (log,) = (out / "runs").glob("*/logs/stream_released-*.log")
    return art, log.read_text()


def test_release_layout_and_unknown_data_sources_are_reported(tmp_path):
    data, foo = release_layout(tmp_path / "release")
    assert foo == 31  # 32 rows, one of them without a uuid
    art, log = run(tmp_path, data, "source.include_data_sources=[aops,stackexchange]")
    rep = json.loads((art / "summary.json").read_text())
    assert rep["rows_in"] == 160  # every file of the folder, JSONL as released
    assert {k["mode"] for k in rep["kept"]} == {"high", "medium", "low"}  # the mode from each file's name
    assert rep["excluded_data_sources"] == {"foo": 31} == {"foo": rep["dropped_by_reason"]["excluded data_source"]}
    assert "foo" not in {k["data_source"] for k in rep["kept"]}
    assert json.loads((art / "metrics.json").read_text())["excluded_data_source/foo"] == 31
    assert "data_source 'foo': 31 rows not in source.include_data_sources, skipped" in log
    assert "data_source 'foo': 31 rows not in source.include_data_sources, skipped" in (art / "report.txt").read_text()


def test_without_an_include_list_every_data_source_is_kept(tmp_path):
    art, log = run(tmp_path, release_layout(tmp_path / "release")[0])
    rep = json.loads((art / "summary.json").read_text())
    assert rep["excluded_data_sources"] == {} and "foo" in {k["data_source"] for k in rep["kept"]}
    assert "not in source.include_data_sources" not in log
