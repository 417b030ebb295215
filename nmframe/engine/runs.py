"""Run directories: `outputs/runs/<run_id>/` holds what a run asked for and how each task ended.

A run directory is small bookkeeping, not results: results live in the artifact store, shared by
all runs. Layout:
    points/<i>.yaml      the resolved config of each sweep point (one for a plain run)
    tasks.json           key -> task, the point whose config defines it, forced or not
    states/<key>.json    state of each task (written by the orchestrator and by workers)
    logs/<slug>.log      stdout/stderr of each task
    run.json             command line, overrides, launcher, start time, the orchestrator's pid and host,
                         tasks handed to the launcher
    heartbeat            touched by the orchestrator while it waits on its tasks

A run that ran nothing (every task cached, or a dry run) still gets its directory (its states say
what was reused), but ``run.json`` records ``ran_tasks: 0`` and the experiment lookup passes over
it: "the latest run of quickstart" is the latest one that computed something.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import heapq
import json
import os
import secrets
import socket
import threading
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


#: Seconds between the orchestrator's heartbeats; a run whose heartbeat is older than
#: HEARTBEAT_STALE_S (and whose orchestrator cannot be checked by pid) counts as interrupted.
HEARTBEAT_S = 30.0
HEARTBEAT_STALE_S = 4 * HEARTBEAT_S
#: States of a task that has not ended; in a run whose orchestrator died they will never change.
UNFINISHED = ("pending", "submitted", "running")


def orchestrator_identity() -> dict:
    """Who runs a run: recorded in run.json so that `status` can tell a live run from a dead one."""
    return {"pid": os.getpid(), "host": socket.gethostname()}


class Heartbeat:
    """Touches ``<run>/heartbeat`` every ``every_s`` seconds while the orchestrator waits on its
    tasks (a Slurm run's orchestrator may live on another host than the one asking)."""

    def __init__(self, rd: "RunDir", every_s: float = HEARTBEAT_S):
        self.path, self.every_s = rd.path / "heartbeat", every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="nmframe-heartbeat", daemon=True)

    def _beat(self) -> None:
        while True:
            try:
                self.path.touch()
            except OSError:
                pass  # a full disk must not stop the run; status then judges by pid
            if self._stop.wait(self.every_s):
                return

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def orchestrator_alive(rd: "RunDir", now: float | None = None) -> bool | None:
    """Whether the process that runs ``rd`` still does: None when the run has ended or did not
    record who runs it (older runs). On its host a dead pid settles it; a heartbeat older than
    HEARTBEAT_STALE_S settles it anywhere (and catches a pid reused by another process)."""
    info = rd.info()
    who = info.get("orchestrator")
    if "ended" in info or not who:
        return None
    here = who.get("host") == socket.gethostname()
    if here and not _pid_alive(int(who["pid"])):
        return False
    try:
        age = (now or time.time()) - (rd.path / "heartbeat").stat().st_mtime
    except OSError:  # not beating yet: the run is being written, or its launcher has not started
        if here:
            return True
        age = (now or time.time()) - float(info.get("started", 0))
    return age < HEARTBEAT_STALE_S


def shown_states(rd: "RunDir") -> dict[str, dict]:
    """The task states to show: as recorded, except that the unfinished tasks of a run whose
    orchestrator died are "interrupted" (nothing will ever move them on)."""
    states = rd.states()
    if orchestrator_alive(rd) is False:
        for key, s in states.items():
            if s.get("state") in UNFINISHED:
                states[key] = {**s, "state": "interrupted", "was": s["state"]}
    return states


def dag_order(tasks: dict[str, dict]) -> list[str]:
    """The keys of a run's tasks (``tasks.json``) in the plan's topological order: by the recorded
    plan order, and for runs without one, inputs first, ties by step and params."""
    def rank(k: str):
        t = tasks[k]
        return (t.get("order", float("inf")), t["task"]["step"], json.dumps(t["task"]["params"], sort_keys=True))

    deps = {k: {d for d in t["task"]["inputs"].values() if d in tasks} for k, t in tasks.items()}
    users: dict[str, list[str]] = {}
    for k, ds in deps.items():
        for d in ds:
            users.setdefault(d, []).append(k)
    waiting = {k: len(ds) for k, ds in deps.items()}
    ready = [(rank(k), k) for k, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    out = []
    while ready:
        _, k = heapq.heappop(ready)
        out.append(k)
        for u in users.get(k, []):
            waiting[u] -= 1
            if waiting[u] == 0:
                heapq.heappush(ready, (rank(u), u))
    return out + sorted(k for k in tasks if k not in set(out))  # a cycle cannot happen; never drop a row


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
