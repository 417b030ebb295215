"""Run directories: `outputs/runs/<run_id>/` holds what a run asked for and how each task ended.

A run directory is small bookkeeping, not results: results live in the artifact store, shared by
all runs. Layout:
    points/<i>.yaml      the resolved config of each sweep point (one for a plain run)
    tasks.json           key -> task, the point whose config defines it, forced or not
    states/<key>.json    state of each task (written by the orchestrator and by workers)
    logs/<slug>.log      stdout/stderr of each task
    run.json             command line, overrides, launcher, start time, tasks handed to the launcher

A run that ran nothing (every task cached, or a dry run) still gets its directory (its states say
what was reused), but ``run.json`` records ``ran_tasks: 0`` and the experiment lookup passes over
it: "the latest run of quickstart" is the latest one that computed something.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from nmframe.engine.task import Task


def _atomic_write(path: Path, text: str) -> None:
    """Replace `path` whole or not at all; a failed write (disk full) names the file it was for."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.filename:
            raise
        raise OSError(exc.errno, exc.strerror, str(path)) from exc


@dataclass
class RunDir:
    path: Path

    @classmethod
    def create(cls, runs_root: Path, overrides: list[str], label: str = "") -> "RunDir":
        """A new, empty run directory that no other run can share: the name ends in a random
        suffix and the directory is made with an exclusive mkdir (a clash just draws again)."""
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        digest = hashlib.sha256(" ".join(overrides).encode()).hexdigest()[:6]
        label = label.replace("/", "-")  # a run directory is one path component under runs_root
        if label in (".", "..") or os.sep in label:
            raise ValueError(f"run label {label!r} cannot name a directory")
        runs_root.mkdir(parents=True, exist_ok=True)
        while True:
            path = runs_root / f"{stamp}-{label + '-' if label else ''}{digest}-{secrets.token_hex(3)}"
            try:
                path.mkdir()
                break
            except FileExistsError:
                continue
        for sub in ("points", "states", "logs"):
            (path / sub).mkdir()
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
        try:
            return json.loads(p.read_text()) if p.exists() else {}
        except ValueError:
            return {}

    @property
    def ran_nothing(self) -> bool:
        """True for a no-op rerun or a dry run (runs written before ``ran_tasks`` existed: False)."""
        return self.info().get("ran_tasks") == 0

    def log_path(self, task: Task) -> Path:
        return self.path / "logs" / f"{task.slug}.log"


def list_runs(runs_root: Path) -> list[RunDir]:
    if not runs_root.exists():
        return []
    runs = [RunDir(p) for p in runs_root.iterdir() if (p / "tasks.json").exists()]
    return sorted(runs, key=lambda r: (r.info().get("started", 0), r.path.name))


class RunNotFound(FileNotFoundError):
    """No run matches what the user named (one line for the command line)."""


def find_run(target: str | Path, runs_root: Path) -> RunDir:
    """The run a user means: a run directory, a run name under runs_root, or an experiment /
    `name` (its latest run). The one lookup every command uses."""
    p = Path(target)
    if (p / "tasks.json").is_file():
        return RunDir(p)
    if not p.is_absolute():
        p = runs_root / p
        if (p / "tasks.json").is_file() and p.resolve().parent == runs_root.resolve():
            return RunDir(p)
    latest = latest_run(runs_root, str(target))
    if latest is not None:
        return latest
    raise RunNotFound(f"no run or experiment named {str(target)!r} (looked in {runs_root}; give a run directory, "
                      "a run name, or an experiment name that has been run)")


def latest_run(runs_root: Path, experiment: str | None = None) -> RunDir | None:
    """The most recent run (of `experiment`: its `name`, or `experiment=<it>` on its command line)
    that ran something; a run that ran nothing only when no other run matches."""
    runs = list_runs(runs_root)
    if experiment is not None:
        name = experiment.split("/")[-1]
        runs = [rd for rd in runs if rd.info().get("name") == name
                or any(f"experiment={experiment}" in " ".join(o) for o in rd.info().get("overrides", []))]
    ran = [rd for rd in runs if not rd.ran_nothing]
    return (ran or runs)[-1] if runs else None
