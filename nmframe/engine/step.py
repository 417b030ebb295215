"""The Step protocol: what every pipeline stage declares and how it is run.

A step says which tasks it contributes to a run (`tasks`: one, or a fan-out over modes, seeds,
shards, stages), which part of the config defines each task's output (`config_slice`), what
resources a task needs, and how to compute the output (`run`). It does not know where it runs.
"""
from __future__ import annotations

import contextlib
import contextvars
import copy
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf

from nmframe.engine.resources import Resources

if TYPE_CHECKING:
    from nmframe.engine.dag import DagBuilder
    from nmframe.engine.task import Task


@dataclass
class TaskSpec:
    """What a step asks the DAG builder to create: fan-out params and upstream tasks by name."""
    params: dict = field(default_factory=dict)
    inputs: dict[str, "Task"] = field(default_factory=dict)


#: While a DAG is built: (config, path) -> resolved value. One config is sliced thousands of times
#: (generate fans out to mode x tir x seed x shard) and OmegaConf's select costs ~0.1 ms a path.
_SELECT_CACHE: contextvars.ContextVar[dict | None] = contextvars.ContextVar("nmframe_select_cache", default=None)


@contextlib.contextmanager
def cached_selects():
    """Memoise :func:`select` for the duration of a DAG build (configs are not changed meanwhile)."""
    token = _SELECT_CACHE.set({})
    try:
        yield
    finally:
        _SELECT_CACHE.reset(token)


def _select_one(cfg: DictConfig, path: str):
    node = OmegaConf.select(cfg, path, throw_on_missing=True)
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def select(cfg: DictConfig, *paths: str) -> dict:
    """The resolved values at `paths` of the config, as plain data, for a step's config slice."""
    cache = _SELECT_CACHE.get()
    if cache is None:
        return {p: _select_one(cfg, p) for p in paths}
    hit = cache.get((id(cfg), paths))
    if hit is None:  # holding cfg keeps its id from being reused by another object
        hit = cache[(id(cfg), paths)] = (cfg, {p: _select_one(cfg, p) for p in paths})
    out = dict(hit[1])
    for p, value in out.items():
        if isinstance(value, (dict, list)):  # a step may edit its slice; the cached copy stays intact
            out[p] = copy.deepcopy(value)
    return out


def scratch_dir(cfg: DictConfig, step: str, key: str) -> Path:
    """A task's stable working directory for resumable partial work (generation shards, mid-stage
    checkpoints): unlike `out_dir`, it survives a killed attempt. The engine removes it once the
    task's artifact is committed, unless `paths.keep_scratch` is set."""
    return Path(cfg.paths.outputs) / "scratch" / step / key


@dataclass
class StepContext:
    """Everything `Step.run` gets: the config, its task, where inputs are and where to write."""
    cfg: DictConfig
    task: "Task"
    out_dir: Path                     # temporary: renamed to the artifact path on success
    inputs: dict[str, Path]           # input name -> finished upstream artifact directory
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("nmframe.step"))
    metrics: dict[str, Any] = field(default_factory=dict)
    tracker: Any = None

    @property
    def params(self) -> dict:
        return self.task.params

    def log_metrics(self, values: dict[str, Any]) -> None:
        """Record metrics: saved in the artifact's metrics.json and sent to the tracker (wandb)."""
        self.metrics.update(values)
        if self.tracker is not None:
            self.tracker.log({f"{self.task.step}/{k}": v for k, v in values.items()
                              if isinstance(v, (int, float))})

    def write_json(self, name: str, obj: Any) -> Path:
        path = self.out_dir / name
        path.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
        return path


class Step:
    """Base class. Subclasses set `name`, `VERSION`, `inputs` and implement `run`."""

    name: str = ""
    VERSION: str = ""
    description: str = ""
    inputs: tuple[str, ...] = ()     # upstream step names (one task each unless tasks() says otherwise)
    produces: str | None = None      # what its artifacts hold ("problems", "samples"): later steps find the
                                     # nearest producer by it (DagBuilder.nearest), not by a list of names
    slice_paths: tuple[str, ...] = ()  # config paths whose resolved values define the output
    extra_reads: tuple[str, ...] = ()  # further config paths that shape its tasks or enter its slice
                                       # by a custom config_slice (fan-out, conditional or derived entries)

    @classmethod
    def reads(cls) -> tuple[str, ...]:
        """Every config path that defines this step's tasks or outputs (`slice_paths` + `extra_reads`):
        what a sweep must change for the step to compute something new (see nmframe.engine.reads)."""
        return tuple(dict.fromkeys((*cls.slice_paths, *cls.extra_reads)))

    def tasks(self, cfg: DictConfig, dag: "DagBuilder") -> list[TaskSpec]:
        return [TaskSpec(params={}, inputs={name: dag.one(name) for name in self.inputs})]

    def config_slice(self, cfg: DictConfig, params: dict) -> dict:
        return select(cfg, *self.slice_paths)

    def resources(self, cfg: DictConfig, params: dict) -> Resources:
        return Resources()

    def input_files(self, cfg: DictConfig, params: dict) -> list[tuple[str, str]]:
        """The files this task reads from the config, as (config key, path) pairs, e.g.
        ``("source.files[0].path", "/data/aops.jsonl")``; a path may be a folder or a glob. The plan
        refuses to run a task whose files are missing, before anything runs. Default: none."""
        return []

    def estimate(self, cfg: DictConfig, params: dict) -> dict:
        """Optional cost prediction for the plan, e.g. {"gpu_hours": 812.0, "step_time_s": 18.2}.
        Steps with a cost model override this; the plan falls back to the time-limit bound."""
        return {}

    def run(self, ctx: StepContext) -> None:
        raise NotImplementedError
