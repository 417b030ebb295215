"""Launchers: local subprocesses, Slurm through submitit, and a dry run that only prints."""
from nmframe.launch.base import (ExecutionPlan, Launcher, PlannedTask, TaskOutcome, TaskState,
                                 worker_command)

__all__ = ["ExecutionPlan", "Launcher", "PlannedTask", "TaskOutcome", "TaskState", "worker_command"]
