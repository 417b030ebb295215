"""A task: one node of the DAG, i.e. one step at one fan-out coordinate.

A task is plain data (JSON-serialisable) so that any launcher can hand it to another process or
machine: the worker re-derives everything else from the run's saved config and the task key.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from nmframe.engine.resources import Resources

KEY_LENGTH = 16


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def drop_none(obj: Any) -> Any:
    """Remove None-valued keys, recursively, so that adding an optional knob whose default is
    None does not change the key of every artifact computed before it existed."""
    if isinstance(obj, dict):
        return {k: drop_none(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, (list, tuple)):
        return [drop_none(v) for v in obj]
    return obj


def compute_key(step: str, version: str, config_slice: dict, params: dict, input_keys: dict) -> str:
    """key = sha256(step, VERSION, resolved config slice, fan-out params, upstream keys)."""
    payload = canonical_json({
        "step": step,
        "version": str(version),
        "slice": drop_none(config_slice),
        "params": drop_none(params),
        "inputs": input_keys,
    })
    return hashlib.sha256(payload.encode()).hexdigest()[:KEY_LENGTH]


def format_params(params: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in params.items())


@dataclass
class Task:
    step: str
    version: str
    key: str
    params: dict = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)  # input name -> upstream task key
    config_slice: dict = field(default_factory=dict)
    resources: Resources = field(default_factory=Resources)

    @property
    def id(self) -> str:
        """Human-readable and unique within a run: `generate[mode=high,tir=True,seed=0]`."""
        return f"{self.step}[{format_params(self.params)}]" if self.params else self.step

    @property
    def deps(self) -> list[str]:
        return sorted(set(self.inputs.values()))

    @property
    def slug(self) -> str:
        """A file-name-safe label used for logs and Slurm job names."""
        label = self.step
        if self.params:
            label += "-" + "-".join(f"{k}{v}" for k, v in self.params.items())
        return "".join(c if c.isalnum() or c in "-_." else "_" for c in label)[:80] + "-" + self.key[:8]

    def to_dict(self) -> dict:
        return {
            "step": self.step, "version": self.version, "key": self.key, "params": self.params,
            "inputs": self.inputs, "config_slice": self.config_slice,
            "resources": self.resources.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Task":
        d = dict(d)
        d["resources"] = Resources.from_dict(d["resources"])
        return cls(**d)
