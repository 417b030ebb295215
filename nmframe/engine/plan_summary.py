"""What a plan costs, per step: task counts, GPU-hours and wall-clock on the cluster.

A plan of the full recipe has thousands of tasks (generate fans out to mode x TIR x seed x shard);
a person reads one row per step. Counts add up: ``tasks = to run + cached + not selected``, a
forced task counts as to run even when its artifact exists.

Costs: a step's own estimate (:meth:`Step.estimate`, the cost model for ``train_stage``) when it
has one, else the time-limit bound of its resources, flagged as an upper bound. Wall-clock is an
estimate on the cluster the config describes (``trainer.nodes`` x ``trainer.gpus_per_node`` GPUs, of
the first point of a sweep):
the tasks of a step run side by side as far as those GPUs allow, never faster than their longest
chain (``train_stage``'s stages run one after another); steps run one after another.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from nmframe.engine.registry import get_step
from nmframe.engine.task import Task

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TaskCost:
    gpu_hours: float
    hours: float       # wall-clock of the task itself
    predicted: bool    # from a cost model; False: the time-limit upper bound


def task_cost(cfg, task: Task) -> TaskCost:
    """The step's estimate when it gives one, else the bound from the task's time limit."""
    res = task.resources
    bound = TaskCost(res.gpu_hours(), res.time_min / 60.0, False)
    if not res.total_gpus:
        return bound
    try:
        est = get_step(task.step).estimate(cfg, task.params) or {}
    except Exception as exc:  # noqa: BLE001 - an estimate must never break planning
        log.warning("no cost estimate for %s: %s", task.id, exc)
        return bound
    if "gpu_hours" not in est:
        return bound
    gh = float(est["gpu_hours"])
    hours = float(est["hours"]) if "hours" in est else gh / res.total_gpus
    return TaskCost(gh, hours, True)


def cluster_gpus(cfg) -> int:
    """GPUs of the cluster a plan is costed on: ``trainer.nodes`` x ``trainer.gpus_per_node``."""
    try:
        return int(cfg.trainer.nodes) * int(cfg.trainer.gpus_per_node)
    except Exception:  # noqa: BLE001 - a config without a trainer section: no GPU cluster
        return 0


@dataclass
class StepRow:
    step: str
    tasks: int = 0
    cached: int = 0
    to_run: int = 0
    not_selected: int = 0
    gpu_hours: float = 0.0       # of the tasks to run
    wall_hours: float = 0.0      # of the tasks to run, on the cluster
    bound: bool = False          # some figure comes from a time limit: an upper bound


@dataclass
class PlanSummary:
    rows: list[StepRow]
    cluster_gpus: int
    costs: dict[str, TaskCost]  # task key -> cost of each task to run
    forced: int = 0             # tasks to run only because --force names their step

    def counts_line(self) -> str:
        """"24 tasks: 4 to run (4 forced), 20 cached": the parts add up to the whole."""
        t = self.total
        forced = f" ({self.forced} forced)" if self.forced else ""
        rest = f", {t.not_selected} not selected" if t.not_selected else ""
        return f"{t.tasks} tasks: {t.to_run} to run{forced}, {t.cached} cached{rest}"

    @property
    def total(self) -> StepRow:
        t = StepRow("total")
        for r in self.rows:
            t.tasks += r.tasks
            t.cached += r.cached
            t.to_run += r.to_run
            t.not_selected += r.not_selected
            t.gpu_hours += r.gpu_hours
            t.wall_hours += r.wall_hours
            t.bound |= r.bound
        return t


def entry_state(entry) -> str:
    """"run", "forced", "cached" or "not selected": the one word each count and list uses."""
    if entry.run:
        return "forced" if entry.forced and entry.cached else "run"
    return "cached" if entry.cached else "not selected"


def summarise(plan) -> PlanSummary:
    """One row per step, in pipeline order (the order the plan's entries come in)."""
    rows: dict[str, StepRow] = {}
    costs: dict[str, TaskCost] = {}
    to_run: dict[str, list[Task]] = {}
    forced = 0
    for e in plan.entries:
        r = rows.setdefault(e.task.step, StepRow(e.task.step))
        r.tasks += 1
        state = entry_state(e)
        if state == "cached":
            r.cached += 1
        elif state == "not selected":
            r.not_selected += 1
        else:
            r.to_run += 1
            forced += state == "forced"
            to_run.setdefault(e.task.step, []).append(e.task)
            c = costs[e.task.key] = task_cost(plan.points[e.point][1], e.task)
            r.gpu_hours += c.gpu_hours
            r.bound |= not c.predicted
    gpus = cluster_gpus(plan.cfg)
    for r in rows.values():
        r.wall_hours = _wall_hours(to_run.get(r.step, []), costs, gpus)
    return PlanSummary(list(rows.values()), gpus, costs, forced)


def _wall_hours(tasks: list[Task], costs: dict[str, TaskCost], gpus: int) -> float:
    """max(longest chain of the step's own tasks, the step's task-hours spread over the slots the
    cluster's GPUs give); a CPU-only step is bounded by its longest chain only."""
    if not tasks:
        return 0.0
    finish: dict[str, float] = {}
    for t in tasks:  # topological order: a task's inputs of the same step come first
        finish[t.key] = costs[t.key].hours + max((finish[d] for d in t.deps if d in finish), default=0.0)
    chain = max(finish.values())
    need = max(t.resources.total_gpus for t in tasks)
    if not need:
        return chain
    slots = max(1, gpus // need)
    return max(chain, math.fsum(costs[t.key].hours for t in tasks) / slots)
