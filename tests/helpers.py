"""Small helpers shared by the test suites (override lists, counter files)."""
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def base_overrides(tmp_path, *extra):
    """The quickstart with outputs under tmp_path and wandb off."""
    return ["experiment=quickstart", f"paths.outputs={tmp_path / 'outputs'}", "tracking.wandb_mode=disabled", *extra]


def counter_lines(tmp_path):
    p = tmp_path / "counter.txt"
    return p.read_text().splitlines() if p.exists() else []
