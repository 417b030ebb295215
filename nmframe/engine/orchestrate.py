"""From composed configs to finished artifacts: plan (no side effects) and execute.

A plan merges the DAGs of all sweep points (equal keys are one task), marks what is cached, and
selects what must run (`pipeline.only` adds the missing upstream tasks; `pipeline.force`
recomputes a step even when cached). Executing a plan writes a run directory, hands the tasks to
a launcher, and records how each ended.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from nmframe.engine.artifacts import ArtifactStore
from nmframe.engine.dag import Dag, build_dag, merge_dags
from nmframe.engine.execution import (ExecutionPlan, Launcher, PlannedTask, TaskOutcome, TaskState,
                                      worker_command)
from nmframe.engine.inputs import MissingInput, missing_inputs
from nmframe.engine.runs import Heartbeat, RunDir, orchestrator_identity
from nmframe.engine.task import Task
from nmframe.errors import ConfigError


INPUT_RECOMPUTED = "an input is recomputed; reused if that input comes out identical"


@dataclass
class PlanEntry:
    task: Task
    point: int            # index of the first sweep point that contains this task
    cached: bool
    run: bool             # selected and (not cached or forced)
    forced: bool = False
    points: list[int] = field(default_factory=list)
    why: str = ""         # why a cached-looking artifact is recomputed (damaged, stale, input recomputed)
    verify: bool = False  # the worker re-hashes every file before reusing the artifact


@dataclass
class Plan:
    points: list[tuple[list[str], DictConfig]]
    entries: list[PlanEntry]  # topological order
    store: ArtifactStore
    missing: list[MissingInput] = field(default_factory=list)  # input files of tasks to run that do not exist

    @property
    def cfg(self) -> DictConfig:
        return self.points[0][1]

    def to_run(self) -> list[PlanEntry]:
        return [e for e in self.entries if e.run]


def make_plan(points: list[tuple[list[str], DictConfig]], verify: bool = False) -> Plan:
    """`verify`: check every file hash of the cached artifacts (not only sizes and mtimes); a
    damaged or stale artifact is recomputed, with the reason in `PlanEntry.why`."""
    roots = {cfg.paths.artifacts for _, cfg in points}
    if len(roots) > 1:
        raise ConfigError("paths.artifacts", sorted(roots), "all points of a sweep must share one artifact store")
    launchers = {OmegaConf.to_yaml(cfg.launcher) for _, cfg in points}
    if len(launchers) > 1:
        raise ConfigError("launcher", "swept", "a sweep runs through one launcher; do not sweep launcher settings")
    store = ArtifactStore(points[0][1].paths.artifacts)
    dags: list[Dag] = [build_dag(cfg) for _, cfg in points]
    merged = merge_dags(dags)
    membership: dict[str, list[int]] = {}
    for i, dag in enumerate(dags):
        for t in dag.tasks:
            membership.setdefault(t.key, []).append(i)
    only = {s for _, cfg in points for s in cfg.pipeline.only}
    force = {s for _, cfg in points for s in cfg.pipeline.force}
    step_of = {t.key: t.step for t in merged.tasks}
    verdicts = {t.key: store.reusable(t.step, t.key, {n: (step_of[k], k) for n, k in t.inputs.items()}, deep=verify)
                for t in merged.tasks}
    cached = {k: v.ok for k, v in verdicts.items()}
    if only:
        targets = {t.key for t in merged.tasks if t.step in only}
        needed = {k for k in merged.upstream_closure(targets) if k in targets or not cached[k]}
    else:
        needed = {t.key for t in merged.tasks}
    entries, running = [], set()
    for t in merged.tasks:  # topological: a task's inputs are decided before it
        forced = t.step in force
        run, why = False, ""
        if t.key in needed:
            if forced or not cached[t.key]:
                run, why = True, verdicts[t.key].reason
            elif any(d in running for d in t.deps):
                # its input is recomputed: the worker reuses it if the input comes out identical
                run, why = True, INPUT_RECOMPUTED
        if run:
            running.add(t.key)
        entries.append(PlanEntry(task=t, point=membership[t.key][0], cached=cached[t.key], run=run, forced=forced,
                                 points=membership[t.key], why=why, verify=verify))
    return Plan(points=points, entries=entries, store=store, missing=missing_inputs(entries, points))


def write_run(plan: Plan, argv: list[str]) -> RunDir:
    cfg = plan.cfg
    label = cfg.name if cfg.name and cfg.name != "default" else ""
    rd = RunDir.create(Path(cfg.paths.runs), [" ".join(o) for o, _ in plan.points], label=label)
    rels = rd.save_points([c for _, c in plan.points])
    rd.save_tasks({e.task.key: {"task": e.task.to_dict(), "point": rels[e.point], "force": e.forced,
                                "points": e.points, "selected": e.run or e.cached, "why": e.why,
                                "verify": e.verify, "order": i} for i, e in enumerate(plan.entries)})
    rd.save_run_info({"argv": argv, "overrides": [o for o, _ in plan.points], "name": cfg.name,
                      "launcher": cfg.launcher.kind, "started": time.time(), "cwd": os.getcwd(),
                      "artifacts": cfg.paths.artifacts, "orchestrator": orchestrator_identity(),
                      # 0: a no-op rerun (all cached) or a dry run; find_run does not take it for "the latest run"
                      "ran_tasks": 0 if cfg.launcher.kind == "dryrun" else len(plan.to_run())})
    for e in plan.entries:
        if e.cached and not e.run:
            rd.set_state(e.task.key, "cached", artifact=str(plan.store.path(e.task.step, e.task.key)))
        elif not e.run:
            rd.set_state(e.task.key, "unselected")
    return rd


def execute_plan(plan: Plan, launcher: Launcher, argv: list[str] | None = None) -> tuple[RunDir, dict[str, TaskOutcome]]:
    """Write the run directory, hand the selected tasks to ``launcher`` (built by the caller, e.g.
    :func:`nmframe.launch.make_launcher`) and record how each ended."""
    rd = write_run(plan, argv if argv is not None else sys.argv)
    to_run = plan.to_run()
    run_keys = {e.task.key for e in to_run}
    planned = [PlannedTask(task=e.task, command=worker_command(rd.path, e.task.key),
                           deps=[d for d in e.task.deps if d in run_keys], log_path=rd.log_path(e.task))
               for e in to_run]
    env = {"PYTHONUNBUFFERED": "1"}
    if plan.cfg.launcher.kind != "dryrun":
        for e in to_run:
            rd.set_state(e.task.key, "pending")
    with Heartbeat(rd):
        outcomes = launcher.launch(ExecutionPlan(run_dir=rd.path, tasks=planned, env=env))
    states = rd.states()
    why = {e.task.key: e.why for e in plan.entries}
    for key, out in outcomes.items():
        worker_state = states.get(key, {}).get("state")
        if out.state == TaskState.DONE and worker_state == "cached":
            out.message = ("its recomputed input came out identical; reused" if why.get(key) == INPUT_RECOMPUTED
                           else "computed by a concurrent run; reused")
        if worker_state not in ("done", "cached", "failed") or out.state in (TaskState.SKIPPED, TaskState.CANCELLED):
            rd.set_state(key, out.state.value, job_id=out.job_id, message=out.message)
        elif out.job_id:
            rd.set_state(key, worker_state, job_id=out.job_id)
    info = rd.info()
    info["ended"] = time.time()
    info["ok"] = all(o.state.ok or o.state == TaskState.PENDING for o in outcomes.values())
    rd.save_run_info(info)
    return rd, outcomes
