"""What `nmframe plan`, `run` and `status` print: tables sized for a person, not for the DAG.

A plan is one row per step by default (tasks, cached, to run, GPU-hours, wall-clock on the
cluster); ``--tasks`` lists every task as plain aligned text (a 3,000-task plan through a rich
table took seconds to lay out). Status rows come in DAG order with the tasks' fan-out params.
"""
from __future__ import annotations

import datetime as dt
import logging
import re

from rich.console import Console
from rich.table import Table

from nmframe.engine.plan_summary import entry_state, summarise, task_cost
from nmframe.engine.task import KEY_LENGTH

BOUND_MARK = "≤"
BOUND_NOTE = (f"{BOUND_MARK}: an upper bound from the tasks' time limits (no cost model for that step; "
              "train_stage's figures come from the cost model)")


def _hours(h: float) -> str:
    if h <= 0:
        return "-"
    if h < 1:
        return f"{h * 60:.0f} min"
    if h < 48:
        return f"{h:,.1f} h"
    return f"{h / 24:,.1f} d"


def _gpu_hours(gh: float, bound: bool) -> str:
    if gh <= 0:
        return "-"
    return f"{BOUND_MARK} {gh:,.1f}" if bound else f"{gh:,.1f}"


def print_plan_summary(console: Console, plan, s=None) -> None:
    """One row per step: tasks = to run + cached (+ not selected), forced tasks counted as to run."""
    s = s or summarise(plan)
    n = len(plan.points)
    cluster = plan.cfg.trainer
    where = (f"{s.cluster_gpus} GPUs ({int(cluster.nodes)} nodes x {int(cluster.gpus_per_node)})"
             if s.cluster_gpus else "no GPUs (trainer.gpus_per_node=0)")
    table = Table(title=f"plan: {plan.cfg.name} ({n} point{'s' if n != 1 else ''}); cluster: {where}")
    by_step: dict[str, set[str]] = {}
    for e in plan.entries:
        by_step.setdefault(e.task.step, set()).add(e.task.resources.describe())
    selected_out = any(r.not_selected for r in s.rows)
    cols = ["step", "tasks", "cached", "to run"] + (["not selected"] if selected_out else []) + \
        ["per task", "GPU-h to run", "wall-clock"]
    for c in cols:
        table.add_column(c, justify="left" if c in ("step", "per task") else "right", no_wrap=True)

    def cells(r, per_task: str) -> list[str]:
        return ([r.step, str(r.tasks), str(r.cached), str(r.to_run)] + ([str(r.not_selected)] if selected_out else [])
                + [per_task, _gpu_hours(r.gpu_hours, r.bound),
                   (f"{BOUND_MARK} " if r.bound and r.wall_hours > 0 else "") + _hours(r.wall_hours)])

    for r in s.rows:
        shapes = by_step[r.step]
        table.add_row(*cells(r, next(iter(shapes)) if len(shapes) == 1 else "varies"))
    table.add_section()
    total = s.total
    table.add_row(*cells(total, ""), style="bold")
    console.print(table)
    console.print(s.counts_line(), markup=False, highlight=False)
    if total.bound:
        console.print(BOUND_NOTE, markup=False)
    console.print("wall-clock: the cluster's GPUs shared by a step's tasks, steps one after another; "
                  "every task: --tasks", markup=False)


def print_task_list(console: Console, plan, s=None) -> None:
    """Every task, one line each (the full list behind the summary), as plain aligned text."""
    s = s or summarise(plan)
    index = {e.task.key: i for i, e in enumerate(plan.entries, start=1)}
    rows = [("#", "step", "params", "key", "state", "resources", "GPU-h", "after")]
    for i, e in enumerate(plan.entries, start=1):
        t = e.task
        c = s.costs.get(t.key) or task_cost(plan.points[e.point][1], t)  # costed once for the summary
        gh = _gpu_hours(c.gpu_hours, not c.predicted) if t.resources.total_gpus else "-"
        rows.append((str(i), t.step, ",".join(f"{k}={v}" for k, v in t.params.items()) or "-", t.key,
                     entry_state(e), t.resources.describe(), gh,
                     ",".join(str(n) for n in sorted(index[d] for d in t.deps if d in index)) or "-"))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]) - 1)]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r[:-1], widths)) + "  " + r[-1] for r in rows]
    console.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)


def print_missing_inputs(console: Console, plan) -> None:
    for m in plan.missing:
        console.print(m.line(), markup=False, highlight=False, soft_wrap=True)


def schedule_comparison(cfg) -> str:
    """For GPU training: the bucketed schedule's GPU-hours against one stage at the largest length
    (:func:`nmframe.costmodel.schedule_summary`)."""
    if "train_stage" not in cfg.pipeline.steps or int(cfg.trainer.gpus_per_node) == 0:
        return ""
    from nmframe.config.stage_plan import build_stage_plan
    from nmframe.costmodel import config_baseline, config_constants, model_shape, schedule_summary

    try:
        plan = build_stage_plan(cfg)
        return schedule_summary(plan, model_shape(cfg.model), constants=config_constants(cfg),
                                baseline=config_baseline(cfg, plan))
    except Exception as exc:  # noqa: BLE001 - an estimate must never break planning
        logging.getLogger(__name__).warning("no schedule estimate: %s", exc)
        return ""


def print_runs(console: Console, runs, runs_root) -> None:
    from nmframe.engine.runs import shown_states

    table = Table(title=f"runs in {runs_root}")
    for col in ("run", "launcher", "tasks", "states"):
        table.add_column(col)
    for rd in runs:
        states = [s.get("state", "?") for s in shown_states(rd).values()]
        summary = ", ".join(f"{states.count(s)} {s}" for s in sorted(set(states)))
        table.add_row(rd.path.name, str(rd.info().get("launcher", "?")), str(len(rd.tasks())), summary)
    console.print(table)


_KEY = re.compile(rf"\b[0-9a-f]{{{KEY_LENGTH}}}\b")  # a task key in a launcher's message


def _label(task: dict) -> str:
    params = ",".join(f"{k}={v}" for k, v in task["params"].items())
    return f"{task['step']}[{params}]" if params else task["step"]


def print_run_status(console: Console, rd) -> None:
    """The tasks of one run in DAG order, with their fan-out params (which evaluate is which)."""
    from nmframe.engine.runs import dag_order, orchestrator_alive, shown_states

    tasks = rd.tasks()
    states = shown_states(rd)
    labels = {k: _label(t["task"]) for k, t in tasks.items()}
    alive = orchestrator_alive(rd)
    title = f"run {rd.path.name}" + (" (interrupted: its orchestrator is gone)" if alive is False else "")
    table = Table(title=title)
    for col in ("step", "params", "key", "state", "time", "where", "note"):
        table.add_column(col, overflow="fold")
    for key in dag_order(tasks):
        t = tasks[key]["task"]
        s = states.get(key, {})
        dur = ""
        if s.get("started") and s.get("ended"):
            dur = f"{s['ended'] - s['started']:.1f}s"
        elif s.get("started"):
            dur = "since " + dt.datetime.fromtimestamp(s["started"]).strftime("%H:%M:%S")
        where = " ".join(x for x in (s.get("host") or "", f"job {s['job_id']}" if s.get("job_id") else "") if x)
        params = ", ".join(f"{k}={v}" for k, v in t["params"].items()) or "-"
        note = s.get("error") or s.get("message") or (f"was {s['was']}" if s.get("was") else "")
        note = _KEY.sub(lambda m: labels.get(m.group(0), m.group(0)), note)  # "upstream boom", not a hash
        table.add_row(t["step"], params, key, s.get("state", "?"), dur, where, note[:80])
    console.print(table)
