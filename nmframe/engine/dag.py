"""Compile a composed config into a DAG of tasks.

Steps are visited in the order the config lists them (`pipeline.steps`); each contributes its
tasks, whose inputs are tasks already built, so the build order is a topological order.

A step's fan-out may be a chain (train_stage: each stage starts from the previous stage's
checkpoint): an input given as :data:`PREVIOUS_TASK` is the task this step built just before,
so the step never builds a Task or computes a key itself.
"""
from __future__ import annotations

from dataclasses import dataclass

from omegaconf import DictConfig

from nmframe.engine.registry import check_pipeline_steps, get_step, list_steps
from nmframe.engine.step import cached_selects
from nmframe.engine.task import Task, compute_key


class DagError(ValueError):
    pass


class _PreviousTask:
    """The type of :data:`PREVIOUS_TASK`."""

    def __repr__(self) -> str:
        return "PREVIOUS_TASK"


#: A TaskSpec input meaning "the task of this same step built just before this one" (a chained
#: fan-out: stage k depends on stage k-1). The first task of a step cannot ask for it.
PREVIOUS_TASK = _PreviousTask()


class DagBuilder:
    def __init__(self, cfg: DictConfig):
        self.cfg = cfg
        self.tasks: dict[str, Task] = {}
        self.by_step: dict[str, list[Task]] = {}

    def all(self, step: str, **match) -> list[Task]:
        if step not in self.by_step:
            raise DagError(f"a step needs {step!r}, which is not in pipeline.steps before it "
                           f"(steps so far: {', '.join(self.by_step) or 'none'})")
        return [t for t in self.by_step[step] if all(t.params.get(k) == v for k, v in match.items())]

    def one(self, step: str, **match) -> Task:
        found = self.all(step, **match)
        if len(found) != 1:
            raise DagError(f"expected exactly one {step!r} task matching {match or '{}'}, found {len(found)}")
        return found[0]

    def nearest(self, produces: str, before: str) -> Task:
        """The task of the nearest step before ``before`` in pipeline order whose class declares
        ``produces``: a consumer names what it reads, not which steps may write it, so a pipeline
        may start from raw dumps or from files and leave out any filter."""
        for name in reversed(list(self.by_step)):
            if name != before and get_step(name).produces == produces:
                return self.one(name)
        makers = [n for n in list_steps() if get_step(n).produces == produces]
        raise DagError(f"step {before!r} needs {produces} from an earlier step "
                       f"({', '.join(makers) or 'none registered'}); none is in pipeline.steps before it (steps so far: {', '.join(self.by_step) or 'none'})")

    def add_step(self, name: str) -> list[Task]:
        step = get_step(name)
        built = []
        for spec in step.tasks(self.cfg, self):
            slice_ = step.config_slice(self.cfg, spec.params)
            input_keys = {k: self._chained(name, k, t, built).key for k, t in spec.inputs.items()}
            key = compute_key(step.name, step.VERSION, slice_, spec.params, input_keys)
            task = Task(step=step.name, version=str(step.VERSION), key=key, params=dict(spec.params),
                        inputs=input_keys, config_slice=slice_,
                        resources=step.resources(self.cfg, spec.params))
            if key in self.tasks:
                raise DagError(f"two tasks of step {name!r} have the same key: params must tell them apart")
            self.tasks[key] = task
            built.append(task)
        self.by_step[name] = built
        return built

    @staticmethod
    def _chained(step: str, input_name: str, task, built: list[Task]) -> Task:
        """``task`` itself, or for :data:`PREVIOUS_TASK` the step's task built just before."""
        if task is not PREVIOUS_TASK:
            return task
        if not built:
            raise DagError(f"the first task of step {step!r} asks for the previous task of its own step "
                           f"(input {input_name!r}): there is none")
        return built[-1]


@dataclass
class Dag:
    tasks: list[Task]  # topological order

    def by_key(self) -> dict[str, Task]:
        return {t.key: t for t in self.tasks}

    def steps(self) -> list[str]:
        return list(dict.fromkeys(t.step for t in self.tasks))

    def upstream_closure(self, keys: set[str]) -> set[str]:
        index = self.by_key()
        seen, stack = set(), list(keys)
        while stack:
            k = stack.pop()
            if k in seen:
                continue
            seen.add(k)
            stack.extend(index[k].deps)
        return seen


def build_dag(cfg: DictConfig) -> Dag:
    check_pipeline_steps(cfg)
    builder = DagBuilder(cfg)
    with cached_selects():
        for name in cfg.pipeline.steps:
            builder.add_step(name)
    return Dag(list(builder.tasks.values()))


def merge_dags(dags: list[Dag]) -> Dag:
    """Union of several sweep points' DAGs: tasks with equal keys are one task, so steps shared by
    several points run once."""
    merged: dict[str, Task] = {}
    for dag in dags:
        for t in dag.tasks:
            merged.setdefault(t.key, t)
    return Dag(list(merged.values()))
