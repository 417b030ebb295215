"""Experiment tracking: wandb, offline by default (no network needed), one wandb run per task.

Offline runs land in `<run_dir>/wandb/` and can be pushed later with `wandb sync`. Set
`tracking.wandb_mode=online` to stream, or `disabled` to skip wandb entirely.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


class Tracker:
    def __init__(self, run=None):
        self._run = run

    def log(self, values: dict) -> None:
        if self._run is not None and values:
            self._run.log(values)

    def finish(self, exit_code: int = 0) -> None:
        if self._run is not None:
            self._run.finish(exit_code=exit_code)
            self._run = None


def start_tracker(tracking_cfg, run_dir: Path, name: str, group: str, config: dict) -> Tracker:
    mode = str(tracking_cfg.wandb_mode)
    if mode == "disabled":
        return Tracker(None)
    try:
        import wandb
    except ImportError:
        log.warning("wandb is not installed: metrics are only written to metrics.json")
        return Tracker(None)
    wb_dir = run_dir / "wandb"
    wb_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("WANDB_SILENT", "true")
    run = wandb.init(project=tracking_cfg.project, entity=tracking_cfg.entity, mode=mode,
                     dir=str(wb_dir), name=name, group=group, config=config, reinit="create_new",
                     settings=wandb.Settings(console="off", x_disable_stats=True))
    return Tracker(run)
