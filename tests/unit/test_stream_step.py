"""The stream_released step through the CLI: artifact layout, key, and clear input errors."""
from __future__ import annotations

import json

import pyarrow.parquet as pq

from nmframe.cli import main
from tests.helpers import released_rows, write_released


def test_stream_released_step(tmp_path):
    data = tmp_path / "released"
    write_released(data / "high_part00-00000-of-00001.parquet", [dict(r, num_tokens=r["num_tokens"] * 3)
                                                                  for r in released_rows(120)])
    args = ["run", "pipeline.steps=[stream_released]", "tracking.wandb_mode=disabled", f"paths.outputs={tmp_path / 'o'}",
            f"stream.files=[{data}]", "buckets=tiny", "stream.checkpoint_rows=50"]
    assert main(args) == 0
    (art,) = [p for p in (tmp_path / "o" / "artifacts" / "stream_released").iterdir() if (p / "manifest.json").exists()]
    rep = json.loads((art / "summary.json").read_text())
    assert rep["rows_in"] == 120 and set(rep["per_bucket"]) == {"ctx512", "ctx1k", "ctx2k"}
    assert rep["dropped_by_reason"]["trivial"] == 11 and rep["dropped_by_reason"]["no expected_answer"] == 9
    assert pq.read_table(art / "buckets" / "ctx512").num_rows == rep["per_bucket"]["ctx512"]
    metrics = json.loads((art / "metrics.json").read_text())
    assert metrics["rows_in"] == 120 and metrics["resumed_parts"] == 0
    assert not (tmp_path / "o" / "scratch" / "stream_released").exists() or \
        not any((tmp_path / "o" / "scratch" / "stream_released").iterdir())
    assert main([*args[:5], f"stream.files=[{tmp_path / 'nothing'}]"]) != 0
