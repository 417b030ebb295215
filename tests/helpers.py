"""Helpers shared by the test suites, so that no test module imports from another one.

Sections: golden files, CLI overrides and counter files (engine tests), a StackExchange dump,
released-schema Parquet rows (stream tests), tiny SFT data and stages (trainer tests), the SFT
pipeline through the CLI and its artifacts (integration tests).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "unit" / "data"


# --- golden files ---------------------------------------------------------------------------------

UPDATE_GOLDEN = "NMFRAME_UPDATE_GOLDEN"


def updating_golden() -> bool:
    return os.environ.get(UPDATE_GOLDEN) == "1"


def rewrite_golden_and_fail(path: Path, text: str) -> None:
    """Write `text` to the golden file, then fail: a run with the update flag never passes, so
    a golden can only change by someone reviewing the diff and rerunning without the flag."""
    import pytest

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    pytest.fail(f"rewrote {path} because {UPDATE_GOLDEN}=1; review `git diff` and rerun without it")


def check_golden(path: Path, text: str) -> None:
    """`text` equals the committed golden file at `path` (with NMFRAME_UPDATE_GOLDEN=1: rewrite, fail)."""
    if updating_golden():
        rewrite_golden_and_fail(path, text)
    assert path.exists(), f"missing golden {path}; create it with {UPDATE_GOLDEN}=1 and review it"
    expected = path.read_text()
    if text != expected:
        import difflib

        diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True),
                                            str(path), "rendered now", n=1))
        raise AssertionError(f"{path.name} differs from the golden ({UPDATE_GOLDEN}=1 rewrites it):\n{diff}")


# --- engine: override lists, counter files ------------------------------------------------------

def base_overrides(tmp_path, *extra):
    """The quickstart with outputs under tmp_path and wandb off."""
    return ["experiment=quickstart", f"paths.outputs={tmp_path / 'outputs'}", "tracking.wandb_mode=disabled", *extra]


def start_run_that_sleeps_mid_step(nm_env, monkeypatch, timeout=60):
    """`nmframe run` (its own process session) of ingest + partial_then_sleep, once the sleeping step
    has started writing: (the process, the run's overrides), for tests that kill the orchestrator."""
    import subprocess
    import sys
    import time

    started = nm_env / "started"
    monkeypatch.setenv("NMFRAME_TEST_STARTED", str(started))
    monkeypatch.setenv("NMFRAME_TEST_SLEEP", "60")
    over = base_overrides(nm_env, "pipeline.steps=[ingest,partial_then_sleep]")
    proc = subprocess.Popen([sys.executable, "-m", "nmframe.cli", "run", *over], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.time()
    while not started.exists():
        if time.time() - t0 > timeout or proc.poll() is not None:
            proc.kill()
            raise TimeoutError(f"{started} not written within {timeout} s (run exit code {proc.poll()})")
        time.sleep(0.05)
    return proc, over


def counter_lines(tmp_path):
    p = tmp_path / "counter.txt"
    return p.read_text().splitlines() if p.exists() else []


# --- sources: a StackExchange Posts.xml dump ----------------------------------------------------

# accepted and top-voted answers, a post after the 2024-07 cut-off, a deleted question, a tag wiki,
# an orphan answer, a row without an id, broken HTML, and a UTF-8 byte-order mark
POSTS_XML = (DATA / "stackexchange_posts.xml").read_text(encoding="utf-8")


def write_dump(root, site="math.stackexchange.com", text=POSTS_XML):
    """`<root>/<site>/Posts.xml`, laid out as in the archive.org dumps."""
    path = root / site / "Posts.xml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --- stream: rows in the released Nemotron-Math-v2 schema ---------------------------------------

EDGES, STAGES = [100, 200, 400], ["s100", "s200", "s400"]


def released_rows(n: int, start: int = 0, seed: int = 0) -> list[dict]:
    """Rows in the released schema; lengths cycle through every bucket; a few are bad on purpose."""
    rng = np.random.default_rng(seed + start)
    rows = []
    for i in range(start, start + n):
        length = [50, 150, 300, 500][i % 4]                       # 500: too long
        low = 8 if i % 10 == 0 else 3                             # every 10th: trivial (16/16)
        rows.append({
            "uuid": f"u{i:06d}" if i % 97 != 5 else None,         # a few without uuid
            "problem": f"Problem {i}", "expected_answer": str(i) if i % 13 != 7 else None,
            "original_expected_answer": str(i), "changed_answer_to_majority": i % 2 == 0,
            "data_source": "aops" if i % 3 else "stackexchange",
            "messages": [{"role": "user", "content": f"Problem {i}"},
                         {"role": "assistant", "content": f"\\boxed{{{i}}}"}],
            "tools": [{"type": "function", "name": "python"}] if i % 2 else [],
            "metadata": {"reason_low_with_tool": {"count": 8, "pass": low, "accuracy": low / 8},
                         "reason_low_no_tool": {"count": 8, "pass": low, "accuracy": low / 8}},
            "license": "cc-by-4.0", "url": None, "num_tokens": length + int(rng.integers(0, 2)),
        })
    return rows


def write_released(path, rows, row_group_size=50):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=row_group_size)
    return path


def stream_settings(**kw):
    """Stream settings for EDGES/STAGES, small parts and batches so a few hundred rows make several."""
    from nmframe.stream import StreamSettings

    return StreamSettings(stage_names=STAGES, edges=EDGES, **{"checkpoint_rows": 100, "batch_rows": 32, **kw})


# --- training: tiny SFT data and packed stages --------------------------------------------------

def make_data(root, n=10, seed=0):
    """n random samples (20-119 tokens, the first third of each masked out) under root/sft."""
    from nmframe.sft.store import SftData, SftWriter

    rng = np.random.default_rng(seed)
    w = SftWriter(root / "sft")
    for i in range(n):
        k = int(rng.integers(20, 120))
        mask = np.r_[np.zeros(k // 3), np.ones(k - k // 3)]
        w.append(rng.integers(20, 500, k), mask, {"problem_id": str(i), "mode": "high", "tir": False, "seed": 0})
    w.close()
    return SftData(root / "sft")


def make_stage(root, data, capacity, name, index, gbs=4, epochs=1.0, seed=0, **kw):
    """A stage over every sample of data, packed into bins of `capacity` tokens under root/pack_<name>."""
    from nmframe.sft.stages import build_schedule
    from nmframe.training.base import StageData

    pack = root / f"pack_{name}"
    pack.mkdir()
    build_schedule(np.arange(len(data)), data.lengths, capacity, global_batch=gbs, epochs=epochs, seed=seed).save(pack)
    return StageData(name, index, root / "sft", pack, capacity=capacity, pad_multiple=128, **kw)


def megatron_cpu_cfg(*extra):
    """trainer=megatron on one CPU rank in fp32 (with the `megatron_cpu` fixture)."""
    from nmframe.config import compose

    return compose(["trainer=megatron", "trainer.nodes=1", "trainer.gpus_per_node=0", "trainer.global_batch_size=4",
                    "trainer.precision=fp32", "trainer.lr=3e-3", *extra])


# --- integration: the SFT pipeline through the CLI ----------------------------------------------

SFT_STEPS = "[ingest,fixture_traces,prepare_sft,bucketize,pack,train_stage]"


def run_sft_pipeline(tmp_path, monkeypatch, *extra):
    """`nmframe run` of the quickstart's SFT steps on the fixture traces, 2 steps per stage."""
    from nmframe.cli import main

    monkeypatch.setenv("NMFRAME_PLUGINS", "tests.integration.sft_fixture_step")
    monkeypatch.chdir(REPO)
    return main(["run", "experiment=quickstart", "buckets=tiny", f"pipeline.steps={SFT_STEPS}",
                 "sft.input_step=fixture_traces", "tracking.wandb_mode=disabled", f"paths.outputs={tmp_path}",
                 "trainer.max_steps=2", *extra])


def one_artifact(outputs, step, **params):
    """The single committed artifact of `step` under outputs whose manifest params match `params`."""
    found = []
    for d in sorted((outputs / "artifacts" / step).iterdir()):
        if not (d / "manifest.json").exists():
            continue
        m = json.loads((d / "manifest.json").read_text())
        if all(m["params"].get(k) == v for k, v in params.items()):
            found.append(d)
    assert len(found) == 1, (step, params, found)
    return found[0]
