"""What a task asks of the machine or the scheduler.

Launchers translate this one dataclass: the local launcher into a concurrency budget, the Slurm
launcher into `--nodes/--gpus-per-node/--cpus-per-task/--time/--mem`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Resources:
    cpus: int = 1
    gpus: int = 0  # per node
    nodes: int = 1
    time_min: int = 60
    mem_gb: int | None = None

    @property
    def total_gpus(self) -> int:
        return self.gpus * self.nodes

    def gpu_hours(self) -> float:
        """An upper bound from the time limit; steps with a cost model report better estimates."""
        return self.total_gpus * self.time_min / 60.0

    def describe(self) -> str:
        parts = [f"{self.nodes}n" if self.nodes > 1 else "", f"{self.gpus}g" if self.gpus else "",
                 f"{self.cpus}c", f"{self.time_min}m"]
        return " ".join(p for p in parts if p)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Resources":
        return cls(**d)
