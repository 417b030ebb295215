"""The `nmframe` command: run, plan, status, steps.

    nmframe run experiment=quickstart                  run every step on this machine
    nmframe plan experiment=quickstart launcher=slurm  the DAG as a table: no side effects
    nmframe run -m mode=high,low tir=on,off            a sweep; shared steps run once
    nmframe status                                     runs and the states of their tasks
    nmframe verify                                     check every artifact's files against its manifest

Everything after the verb is a Hydra override (group=choice, key=value, +key=value).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from nmframe.config import ConfigError, OverrideError, compose_points, conf_dir, group_choices
from nmframe.engine.runs import RunNotFound

# tables are wide: when output is a file or pipe (logs, CI), do not squeeze them into 80 columns
_width = None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", "160"))
console = Console(stderr=False, highlight=False, width=_width)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)  # an error stays one line, whatever the width


def _first_comment(path: Path) -> str:
    try:
        for line in path.read_text().splitlines():
            s = line.strip()
            if s.startswith("#") and not s.startswith("# @package") and not s.startswith("# Run:"):
                return s.lstrip("# ").strip()
            if s and not s.startswith("#"):
                break
    except OSError:
        pass
    return ""


def groups_help() -> str:
    lines = ["config groups (pick one with group=choice):"]
    root = conf_dir()
    for group, choices in group_choices().items():
        lines.append(f"  {group}:")
        for c in choices:
            desc = _first_comment(root / group / f"{c}.yaml")
            lines.append(f"    {c:<28} {desc[:90]}")
    lines += ["", "any key can be set: trainer.lr=1e-4 launcher.max_parallel=4 pipeline.steps=[ingest]",
              "sweep with -m: nmframe run -m trainer.lr=1e-4,2e-4  (validated for every point before launch)"]
    return "\n".join(lines)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("overrides", nargs="*", help="Hydra overrides: group=choice or key=value")
    p.add_argument("-m", "--multirun", action="store_true", help="expand sweeps (a=1,2) into several points")
    p.add_argument("--force", action="append", default=[], metavar="STEP", help="recompute STEP even if cached")
    p.add_argument("--only", action="append", default=[], metavar="STEP",
                   help="run only STEP (plus upstream steps that are not cached yet)")
    p.add_argument("--config-dir", action="append", default=[], type=Path, metavar="DIR",
                   help="an extra folder of config groups (your own experiments), searched after nmframe's")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nmframe", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Declarative, cached experiments for long mathematical-reasoning distillation.",
        epilog=__doc__.split("\n", 2)[2] + "\n" + groups_help())
    sub = parser.add_subparsers(dest="verb", required=True)
    run = sub.add_parser("run", help="compose, validate, and execute a run (or a sweep with -m)",
                         formatter_class=argparse.RawDescriptionHelpFormatter, epilog=groups_help())
    _common(run)
    run.add_argument("-q", "--quiet", action="store_true")
    run.add_argument("--verify", action="store_true",
                     help="check every file hash of cached artifacts before reusing them (sizes are always checked)")
    plan = sub.add_parser("plan", help="show the DAG (step, key, cached or not, resources); runs nothing",
                          formatter_class=argparse.RawDescriptionHelpFormatter, epilog=groups_help())
    _common(plan)
    plan.add_argument("--cfg", action="store_true", help="also print the composed config of each point")
    status = sub.add_parser("status", help="list runs, or the tasks of one run")
    status.add_argument("run", nargs="?", help="a run directory or its name (default: list recent runs)")
    status.add_argument("--outputs", type=Path, default=Path("outputs"), help="the outputs folder (default: outputs)")
    status.add_argument("-n", type=int, default=15, help="how many recent runs to list")
    sub.add_parser("steps", help="list the registered steps")
    verify = sub.add_parser("verify", help="check every artifact in the store against its manifest (sizes and "
                            "sha256); damaged ones are listed and recomputed by the next run")
    verify.add_argument("overrides", nargs="*", help="Hydra overrides that locate the store (paths.outputs=...)")
    verify.add_argument("--config-dir", action="append", default=[], type=Path, metavar="DIR",
                        help="an extra folder of config groups, searched after nmframe's")
    from nmframe.report.command import add_arguments as report_arguments

    report_arguments(sub.add_parser("report", help="Markdown/CSV/HTML report of a run or experiment (paper tables, "
                                    "CIs, paired tests, plots); --import external eval outputs"))
    return parser


def _points(args):
    overrides = list(args.overrides)
    if args.force:
        overrides.append(f"pipeline.force=[{','.join(args.force)}]")
    if args.only:
        overrides.append(f"pipeline.only=[{','.join(args.only)}]")
    return compose_points(overrides, multirun=args.multirun, extra_dirs=args.config_dir or None)


def print_plan(plan, show_cfg: bool = False) -> None:
    from omegaconf import OmegaConf

    if show_cfg:
        for overrides, cfg in plan.points:
            console.rule(" ".join(overrides) or "(defaults)")
            console.print(OmegaConf.to_yaml(cfg), markup=False)
    table = Table(title=f"plan: {plan.cfg.name} ({len(plan.points)} point{'s' if len(plan.points) > 1 else ''})")
    for col in ("#", "step", "params", "key", "state", "resources", "GPU-h", "after"):
        table.add_column(col, no_wrap=col in ("key", "step", "state", "GPU-h"), overflow="fold")
    index = {e.task.key: i for i, e in enumerate(plan.entries, start=1)}
    total_gpu_h, bound_only = 0.0, False
    for i, e in enumerate(plan.entries, start=1):
        t = e.task
        state = ("forced" if e.forced and e.run else "run") if e.run else ("cached" if e.cached else "not selected")
        gh, predicted = gpu_hours(plan.points[e.point][1], t)
        if e.run:
            total_gpu_h += gh
            bound_only |= bool(gh) and not predicted
        params = ", ".join(f"{k}={v}" for k, v in t.params.items())
        shown = "-" if not gh else (f"{gh:,.1f}" if predicted else f"<={gh:,.1f}")
        table.add_row(str(i), t.step, params, t.key, state, t.resources.describe(), shown,
                      ",".join(str(index[d]) for d in t.deps) or "-")
    console.print(table)
    n_run = len(plan.to_run())
    how = " (cost model; <= marks a time-limit bound)" if bound_only else " (cost model)"
    console.print(f"{len(plan.entries)} tasks: {n_run} to run, {sum(e.cached for e in plan.entries)} cached; "
                  f"GPU-hours to run: {total_gpu_h:,.1f}{how if total_gpu_h else ''}; "
                  f"launcher: {plan.cfg.launcher.kind}; artifacts: {plan.cfg.paths.artifacts}")
    for _, cfg in plan.points:
        line = schedule_comparison(cfg)
        if line:
            console.print(line)


def schedule_comparison(cfg) -> str:
    """For GPU training: the bucketed schedule's GPU-hours against one stage at the largest length
    (:func:`nmframe.costmodel.schedule_summary`)."""
    if "train_stage" not in cfg.pipeline.steps or int(cfg.trainer.gpus_per_node) == 0:
        return ""
    from nmframe.config.stage_plan import build_stage_plan
    from nmframe.costmodel import model_shape, schedule_summary

    try:
        return schedule_summary(build_stage_plan(cfg), model_shape(cfg.model))
    except Exception as exc:  # noqa: BLE001 - an estimate must never break planning
        logging.getLogger(__name__).warning("no schedule estimate: %s", exc)
        return ""


def gpu_hours(cfg, task) -> tuple[float, bool]:
    """(GPU-hours, predicted?): the step's cost-model estimate when it has one, else the
    upper bound from its time limit."""
    from nmframe.engine.registry import get_step

    if not task.resources.total_gpus:
        return 0.0, True
    try:
        est = get_step(task.step).estimate(cfg, task.params) or {}
    except Exception as exc:  # an estimate must never break planning
        logging.getLogger(__name__).warning("no cost estimate for %s: %s", task.id, exc)
        est = {}
    if "gpu_hours" in est:
        return float(est["gpu_hours"]), True
    return task.resources.gpu_hours(), False


class PlanningError(RuntimeError):
    """The configs composed, but the DAG could not be built (a step's inputs, its config slice)."""


def _make_plan(args):
    from nmframe.engine.orchestrate import make_plan

    points = _points(args)
    try:
        return make_plan(points, verify=getattr(args, "verify", False))
    except (OverrideError, ConfigError):
        raise
    except Exception as exc:  # noqa: BLE001 - report any planning failure as one line, no traceback
        raise PlanningError(f"{type(exc).__name__}: {exc}") from exc


def print_recompute_reasons(plan) -> None:
    """Why each artifact that exists is computed again (damaged, stale, an input recomputed)."""
    for e in plan.entries:
        if e.run and e.why:
            console.print(f"recompute {e.task.id}: {e.why}", markup=False, highlight=False)


def cmd_plan(args) -> int:
    plan = _make_plan(args)
    print_plan(plan, show_cfg=args.cfg)
    print_recompute_reasons(plan)
    return 0


def cmd_run(args) -> int:
    from nmframe.engine.orchestrate import execute_plan
    from nmframe.launch import make_launcher

    plan = _make_plan(args)
    if not args.quiet:
        print_plan(plan)
    print_recompute_reasons(plan)
    if not plan.to_run():
        console.print("[green]everything is cached: nothing to run[/green]")
    index = {e.task.key: e.task for e in plan.entries}

    def on_state(key, state):
        if not args.quiet:
            console.print(f"  {state.value:<9} {index[key].id}")

    rd, outcomes = execute_plan(plan, make_launcher(plan.cfg, on_state=on_state), argv=sys.argv)
    if plan.cfg.launcher.kind == "dryrun":
        console.print(f"dry run: {len(outcomes)} tasks printed, nothing executed (run dir {rd.path})")
        return 0
    failed = {k: o for k, o in outcomes.items() if not o.state.ok}
    if not outcomes:
        _print_noop(rd)
        return 0
    console.print(f"run {rd.path.name}: {sum(o.state.ok for o in outcomes.values())} finished, "
                  f"{len(failed)} not; details: nmframe status {rd.path}")
    for k, o in failed.items():
        err_console.print(f"[red]{o.state.value}[/red] {index[k].id}: {o.message}")
    return 1 if failed else 0


def _print_noop(rd) -> None:
    """A rerun that computed nothing: say which earlier run of the same experiment holds the
    results `nmframe report` will read (this run is passed over as "the latest run")."""
    from nmframe.engine.runs import latest_run

    name = str(rd.info().get("name") or "")
    holder = latest_run(rd.path.parent, name) if name else None
    where = (f"; `nmframe report {name}` reads run {holder.path.name}" if holder is not None and holder.path != rd.path
             else "")
    console.print(f"run {rd.path.name}: nothing ran (every task cached){where}", markup=False, highlight=False)


def cmd_status(args) -> int:
    import datetime as dt

    from nmframe.engine.runs import list_runs

    if args.run is None:
        runs = list_runs(args.outputs / "runs")[-args.n:]
        table = Table(title=f"runs in {args.outputs / 'runs'}")
        for col in ("run", "launcher", "tasks", "states"):
            table.add_column(col)
        for rd in runs:
            states = [s.get("state", "?") for s in rd.states().values()]
            summary = ", ".join(f"{states.count(s)} {s}" for s in sorted(set(states)))
            table.add_row(rd.path.name, str(rd.info().get("launcher", "?")), str(len(rd.tasks())), summary)
        console.print(table)
        if not runs:
            console.print("no runs yet: try `nmframe run experiment=quickstart`")
        return 0
    from nmframe.engine.runs import find_run

    rd = find_run(args.run, args.outputs / "runs")
    states = rd.states()
    table = Table(title=f"run {rd.path.name}")
    for col in ("task", "key", "state", "time", "where", "note"):
        table.add_column(col)
    for key, entry in rd.tasks().items():
        t = entry["task"]
        s = states.get(key, {})
        dur = ""
        if s.get("started") and s.get("ended"):
            dur = f"{s['ended'] - s['started']:.1f}s"
        elif s.get("started"):
            dur = "since " + dt.datetime.fromtimestamp(s["started"]).strftime("%H:%M:%S")
        where = " ".join(x for x in (s.get("host") or "", f"job {s['job_id']}" if s.get("job_id") else "") if x)
        label = t["step"] + ("[" + ",".join(f"{k}={v}" for k, v in t["params"].items()) + "]" if t["params"] else "")
        table.add_row(label, key, s.get("state", "?"), dur, where, (s.get("error") or s.get("message") or "")[:80])
    console.print(table)
    return 0


def cmd_steps(args) -> int:
    from nmframe.engine.registry import get_step, list_steps

    table = Table(title="registered steps")
    for col in ("step", "VERSION", "inputs", "what it does"):
        table.add_column(col)
    for name in list_steps():
        s = get_step(name)
        table.add_row(name, str(s.VERSION), ", ".join(s.inputs) or "-", s.description)
    console.print(table)
    return 0


def cmd_verify(args) -> int:
    from nmframe.engine.artifacts import ArtifactStore

    cfg = compose_points(list(args.overrides), multirun=False, extra_dirs=args.config_dir or None)[0][1]
    store = ArtifactStore(cfg.paths.artifacts)
    found = store.artifacts()
    damaged = 0
    for step, key in found:
        verdict = store.check(step, key, deep=True)
        if not verdict.ok:
            damaged += 1
            err_console.print(f"damaged {step}/{key}: {verdict.reason}", markup=False, highlight=False)
    console.print(f"{len(found)} artifacts in {store.root}: {len(found) - damaged} intact, {damaged} damaged"
                  + ("; `nmframe run --verify ...` recomputes them" if damaged else ""), markup=False)
    return 1 if damaged else 0


def _os_error_line(exc: OSError) -> str:
    """Disk full, read-only outputs, a name too long for the filesystem: one line naming the file."""
    where = f" {exc.filename}" if exc.filename else ""
    return f"cannot write or read{where}: {exc.strerror or exc}"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.verb == "report":
            from nmframe.report.command import run as cmd_report

            return cmd_report(args, console)
        return {"run": cmd_run, "plan": cmd_plan, "status": cmd_status, "steps": cmd_steps,
                "verify": cmd_verify}[args.verb](args)
    except (OverrideError, ConfigError) as exc:
        err_console.print(f"[red]invalid config:[/red] {escape(str(exc))}", markup=True, highlight=False)
        err_console.print("see `nmframe --help` for the groups and their choices")
        return 2
    except PlanningError as exc:
        err_console.print(f"[red]cannot plan:[/red] {escape(str(exc))}", markup=True, highlight=False)
        return 2
    except RunNotFound as exc:
        err_console.print(str(exc), style="red", markup=False, highlight=False)
        return 2
    except OSError as exc:
        err_console.print(_os_error_line(exc), style="red", markup=False, highlight=False)
        return 1
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
