"""The stream_released step through the CLI: artifact layout, key, and clear input errors."""
from __future__ import annotations

import json
import shutil

import pyarrow.parquet as pq

from nmframe.cli import main
from nmframe.config import compose
from nmframe.engine.dag import build_dag
from tests.helpers import released_rows, write_released

BASE = ["pipeline.steps=[stream_released]", "tracking.wandb_mode=disabled", "buckets=tiny"]


def _key(tmp_path, files, *extra) -> str:
    cfg = compose([*BASE, f"paths.outputs={tmp_path / 'o'}", f"stream.files=[{files}]", *extra])
    (task,) = [t for t in build_dag(cfg).tasks if t.step == "stream_released"]
    return task.key


def test_stream_released_step(tmp_path):
    data = tmp_path / "released"
    write_released(data / "high_part00-00000-of-00001.parquet", [dict(r, num_tokens=r["num_tokens"] * 3)
                                                                  for r in released_rows(120)])
    args = ["run", *BASE, f"paths.outputs={tmp_path / 'o'}", f"stream.files=[{data}]", "stream.checkpoint_rows=50"]
    assert main(args) == 0
    (art,) = [p for p in (tmp_path / "o" / "artifacts" / "stream_released").iterdir() if (p / "manifest.json").exists()]
    assert art.name.endswith(_key(tmp_path, data, "stream.checkpoint_rows=50"))  # the artifact sits under its key
    rep = json.loads((art / "summary.json").read_text())
    assert rep["rows_in"] == 120 and set(rep["per_bucket"]) == {"ctx512", "ctx1k", "ctx2k"}
    assert rep["dropped_by_reason"]["trivial"] == 11 and rep["dropped_by_reason"]["no expected_answer"] == 9
    assert pq.read_table(art / "buckets" / "ctx512").num_rows == rep["per_bucket"]["ctx512"]
    metrics = json.loads((art / "metrics.json").read_text())
    assert metrics["rows_in"] == 120 and metrics["resumed_parts"] == 0
    assert not (tmp_path / "o" / "scratch" / "stream_released").exists() or \
        not any((tmp_path / "o" / "scratch" / "stream_released").iterdir())


def test_key_follows_file_contents_and_output_settings_not_locations_or_speed(tmp_path):
    data = tmp_path / "a" / "released"
    f = write_released(data / "high-00000-of-00001.parquet", released_rows(40))
    key = _key(tmp_path, data)
    moved = tmp_path / "b" / "released"
    shutil.copytree(data, moved)
    assert _key(tmp_path, moved) == key                                   # same bytes elsewhere
    assert _key(tmp_path, data, "stream.batch_rows=7", "stream.workers=3") == key  # speed knobs only
    assert _key(tmp_path, data, "filters.trivial_threshold=0.5") != key   # changes which rows are kept
    assert _key(tmp_path, data, "stream.drop_trivial=false") != key
    write_released(f, released_rows(41))
    assert _key(tmp_path, data) != key                                    # new contents


def test_missing_input_fails_naming_the_path(tmp_path, capsys):
    missing = tmp_path / "nothing"
    assert main(["run", *BASE, f"paths.outputs={tmp_path / 'o'}", f"stream.files=[{missing}]"]) == 2
    # refused when planning, before anything runs
    assert f"missing input file: stream.files[0]={missing} (read by stream_released)" in capsys.readouterr().err
    assert not (tmp_path / "o" / "runs").exists()
