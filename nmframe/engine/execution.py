"""The launcher interface: how the tasks of a plan get executed, apart from what they compute.

A launcher receives an `ExecutionPlan` (tasks in dependency order, each with the exact command
that executes it) and returns one `TaskOutcome` per task. It never imports step code: the
command `python -m nmframe.engine.task_runner --run-dir R --task KEY` does the work wherever it runs.

Why in the engine: the engine states what it needs from a launcher and receives one; the
implementations (`nmframe.launch`: local, Slurm, dry run) import this module, never the other
way round.
"""
from __future__ import annotations

import enum
import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

from nmframe.engine.task import Task


class TaskState(str, enum.Enum):
    PENDING = "pending"
    CACHED = "cached"
    SUBMITTED = "submitted"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"  # an upstream task failed or was cancelled

    @property
    def finished(self) -> bool:
        return self in (TaskState.CACHED, TaskState.DONE, TaskState.FAILED,
                        TaskState.CANCELLED, TaskState.SKIPPED)

    @property
    def ok(self) -> bool:
        return self in (TaskState.CACHED, TaskState.DONE)


@dataclass
class PlannedTask:
    task: Task
    command: list[str]
    deps: list[str]  # keys of tasks in this plan that must finish first (cached ones are omitted)
    log_path: Path


@dataclass
class ExecutionPlan:
    run_dir: Path
    tasks: list[PlannedTask]  # topological order
    env: dict[str, str] = field(default_factory=dict)

    def by_key(self) -> dict[str, PlannedTask]:
        return {p.task.key: p for p in self.tasks}


@dataclass
class TaskOutcome:
    key: str
    state: TaskState
    job_id: str | None = None
    message: str = ""


def worker_command(run_dir: Path, key: str) -> list[str]:
    return [sys.executable, "-m", "nmframe.engine.task_runner", "--run-dir", str(run_dir), "--task", key]


class Launcher(ABC):
    """Submits a plan's tasks after their dependencies and reports how each one ended."""

    name: str = "base"

    @abstractmethod
    def launch(self, plan: ExecutionPlan) -> dict[str, TaskOutcome]:
        ...
