"""Fixtures for engine tests: an isolated outputs folder and the test-only plugin steps."""
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def nm_env(tmp_path, monkeypatch):
    """Outputs under tmp_path, wandb off, test steps registered (also in worker subprocesses)."""
    monkeypatch.setenv("NMFRAME_PLUGINS", "tests.plugins.nm_test_steps")
    monkeypatch.setenv("PYTHONPATH", f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    monkeypatch.setenv("NMFRAME_TEST_COUNTER", str(tmp_path / "counter.txt"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def base_overrides(tmp_path, *extra):
    return ["experiment=quickstart", f"paths.outputs={tmp_path / 'outputs'}", "tracking.wandb_mode=disabled", *extra]


def counter_lines(tmp_path):
    p = tmp_path / "counter.txt"
    return p.read_text().splitlines() if p.exists() else []
