"""A stream killed with SIGKILL continues from its last finished part and ends with the same output."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from nmframe.stream import run_stream
from tests.helpers import EDGES, STAGES, released_rows, stream_settings, write_released

CHILD = """
import sys, time
from pathlib import Path
from nmframe.stream import runner
slow = runner._Batcher.process
def process(self, batch, summ):
    time.sleep(0.15)
    return slow(self, batch, summ)
runner._Batcher.process = process
files = [Path(p) for p in sys.argv[3:]]
s = runner.StreamSettings(stage_names={stages!r}, edges={edges!r}, checkpoint_rows=50, batch_rows=25)
runner.run_stream(files, Path(sys.argv[1]), Path(sys.argv[2]), s)
"""


def _outputs(out):
    return {st: pq.read_table(out / "buckets" / st, columns=["uuid"]).column(0).to_pylist()
            for st in STAGES if (out / "buckets" / st).exists()}


@pytest.mark.slow
def test_sigkill_then_resume(tmp_path):
    files = [write_released(tmp_path / "in" / f"{m}_part0{j}.parquet", released_rows(100, 1000 * i + 100 * j))
             for i, m in enumerate(["high", "medium"]) for j in range(2)]
    scratch, out = tmp_path / "scratch", tmp_path / "out"
    code = CHILD.format(stages=STAGES, edges=EDGES)
    proc = subprocess.Popen([sys.executable, "-c", code, str(out), str(scratch), *map(str, files)],
                            cwd=os.getcwd(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    progress = scratch / "progress.json"
    deadline = time.monotonic() + 60
    done = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if progress.exists():
            try:
                done = len(json.loads(progress.read_text())["parts"])
            except ValueError:
                done = 0
            if done >= 3:
                break
        time.sleep(0.02)
    assert proc.poll() is None, f"the stream ended before it could be killed: {proc.stderr.read().decode()[-500:]}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 3 <= len(json.loads(progress.read_text())["parts"]) < 8   # 4 files x 2 parts

    rep = run_stream(files, out, scratch, stream_settings(checkpoint_rows=50, batch_rows=25))
    assert rep["resumed_parts"] >= 3
    clean = run_stream(files, tmp_path / "clean", tmp_path / "scratch2", stream_settings(checkpoint_rows=50, batch_rows=25))
    assert clean["resumed_parts"] == 0
    assert _outputs(out) == _outputs(tmp_path / "clean")
    for k in ("rows_in", "rows_kept", "per_bucket", "dropped_by_reason", "kept", "notes"):
        assert rep[k] == clean[k], k
    assert rep["rows_in"] == 400
