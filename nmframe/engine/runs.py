"""Run directories: `outputs/runs/<run_id>/` holds what a run asked for and how each task ended.

A run directory is small bookkeeping, not results: results live in the artifact store, shared by
all runs. Layout:
    points/<i>.yaml      the resolved config of each sweep point (one for a plain run)
    tasks.json           key -> task, the point whose config defines it, forced or not
    states/<key>.json    state of each task (written by the orchestrator and by workers)
    logs/<slug>.log      stdout/stderr of each task
    run.json             command line, overrides, launcher, start time
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from nmframe.engine.task import Task


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


@dataclass
class RunDir:
    path: Path

    @classmethod
    def create(cls, runs_root: Path, overrides: list[str], label: str = "") -> "RunDir":
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        digest = hashlib.sha256(" ".join(overrides).encode()).hexdigest()[:6]
        name = f"{stamp}-{label + '-' if label else ''}{digest}"
        path = runs_root / name
        n = 1
        while path.exists():
            n += 1
            path = runs_root / f"{name}-{n}"
        for sub in ("points", "states", "logs"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        return cls(path)

    # -- writing -------------------------------------------------------------------------
    def save_points(self, cfgs: list[DictConfig]) -> list[str]:
        names = []
        for i, cfg in enumerate(cfgs):
            rel = f"points/{i:03d}.yaml"
            _atomic_write(self.path / rel, OmegaConf.to_yaml(cfg, resolve=True))
            names.append(rel)
        return names

    def save_tasks(self, entries: dict[str, dict]) -> None:
        _atomic_write(self.path / "tasks.json", json.dumps(entries, indent=1, sort_keys=True))

    def save_run_info(self, info: dict) -> None:
        _atomic_write(self.path / "run.json", json.dumps(info, indent=2, sort_keys=True, default=str))

    def set_state(self, key: str, state: str, **extra) -> None:
        path = self.path / "states" / f"{key}.json"
        old = json.loads(path.read_text()) if path.exists() else {}
        old.update(extra)
        old["state"] = state
        old.setdefault("history", []).append([state, time.time()])
        _atomic_write(path, json.dumps(old, indent=1, sort_keys=True, default=str))

    # -- reading -------------------------------------------------------------------------
    def tasks(self) -> dict[str, dict]:
        return json.loads((self.path / "tasks.json").read_text())

    def task(self, key: str) -> tuple[Task, dict]:
        entry = self.tasks()[key]
        return Task.from_dict(entry["task"]), entry

    def load_point(self, rel: str) -> DictConfig:
        return OmegaConf.load(self.path / rel)

    def states(self) -> dict[str, dict]:
        out = {}
        for p in (self.path / "states").glob("*.json"):
            try:
                out[p.stem] = json.loads(p.read_text())
            except json.JSONDecodeError:
                continue
        return out

    def info(self) -> dict:
        p = self.path / "run.json"
        return json.loads(p.read_text()) if p.exists() else {}

    def log_path(self, task: Task) -> Path:
        return self.path / "logs" / f"{task.slug}.log"


def list_runs(runs_root: Path) -> list[RunDir]:
    if not runs_root.exists():
        return []
    runs = [RunDir(p) for p in runs_root.iterdir() if (p / "tasks.json").exists()]
    return sorted(runs, key=lambda r: (r.info().get("started", 0), r.path.name))
