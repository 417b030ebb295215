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

from nmframe import cli_help, cli_hydra
from nmframe.config import ConfigError, OverrideError, compose_points, override_keys
from nmframe.engine.reads import SweepError
from nmframe.engine.runs import RunNotFound

# tables are wide: when output is a file or pipe (logs, CI), do not squeeze them into 80 columns
_width = None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", "160"))
console = Console(stderr=False, highlight=False, width=_width)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)  # an error stays one line, whatever the width


def groups_help() -> str:
    """Every config group, its default and its choices (:mod:`nmframe.cli_help`)."""
    return cli_help.groups_help()


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("overrides", nargs="*", help="Hydra overrides: group=choice or key=value")
    p.add_argument("-m", "--multirun", action="store_true", help="expand sweeps (a=1,2) into several points")
    p.add_argument("--force", action="append", default=[], metavar="STEP", help="recompute STEP even if cached")
    p.add_argument("--only", action="append", default=[], metavar="STEP",
                   help="run only STEP (plus upstream steps that are not cached yet)")
    p.add_argument("--config-dir", action="append", default=[], type=Path, metavar="DIR",
                   help="an extra folder of config groups (your own experiments), searched after nmframe's")
    cli_hydra.add_show_flags(p)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nmframe", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Declarative, cached experiments for long mathematical-reasoning distillation.",
        epilog=cli_help.EXAMPLES + "\n" + groups_help())
    sub = parser.add_subparsers(dest="verb", required=True)
    run = sub.add_parser("run", help="compose, validate, and execute a run (or a sweep with -m)",
                         epilog=cli_help.EXAMPLES + "\n" + groups_help())
    _common(run)
    run.add_argument("-q", "--quiet", action="store_true", help="print neither the plan nor each task's state")
    run.add_argument("--tasks", action="store_true", help="print every task of the plan, not only the per-step summary")
    run.add_argument("--verify", action="store_true",
                     help="check every file hash of cached artifacts before reusing them (sizes are always checked)")
    plan = sub.add_parser("plan", help="what would run, per step: tasks, cached, GPU-hours, wall-clock "
                          "(--tasks: every task); runs nothing",
                          epilog=cli_help.EXAMPLES + "\n" + groups_help())
    _common(plan)
    plan.add_argument("--tasks", action="store_true", help="list every task (step, params, key, state, resources), "
                      "not only the per-step summary")
    status = sub.add_parser("status", help="list runs, or the tasks of one run")
    status.add_argument("run", nargs="?", help="a run directory or its name (default: list recent runs)")
    status.add_argument("--outputs", type=Path, default=None,
                        help="the outputs folder (default: $NMFRAME_OUTPUTS, else <project root>/outputs)")
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
    from nmframe.calibrate import add_arguments as calibrate_arguments

    calibrate_arguments(sub.add_parser("calibrate", help="fit the cost model to a run's measured stage step times "
                                       "and write a profile (use it with costmodel.profile=PATH)"))
    cli_help.finish(parser)
    return parser


def _overrides(args) -> list[str]:
    overrides = list(args.overrides)
    if args.force:
        overrides.append(f"pipeline.force=[{','.join(args.force)}]")
    if args.only:
        overrides.append(f"pipeline.only=[{','.join(args.only)}]")
    return overrides


def _points(args):
    overrides = _overrides(args)
    points = compose_points(overrides, multirun=args.multirun, extra_dirs=args.config_dir or None)
    check_overrides_read(overrides, points)
    return points


def check_overrides_read(overrides: list[str], points) -> None:
    """Refuse a sweep over a key that no step of the pipeline reads (every point would be the same
    tasks); warn about a single override of such a key (:mod:`nmframe.engine.reads`)."""
    from nmframe.engine.reads import check_keys_read
    from nmframe.engine.registry import check_pipeline_steps

    for _, cfg in points:
        check_pipeline_steps(cfg)
    for line in check_keys_read(override_keys(overrides), [list(cfg.pipeline.steps) for _, cfg in points]):
        err_console.print(f"warning: {line}", markup=False, highlight=False)


def print_plan(plan, tasks: bool = False) -> None:
    """The plan: one row per step (every task with ``tasks``), then where it runs and the
    training schedule's estimate (:mod:`nmframe.cli_render`); the configs are `--cfg job`'s."""
    from nmframe.cli_render import print_plan_summary, print_task_list, schedule_comparison
    from nmframe.engine.plan_summary import summarise

    summary = summarise(plan)
    if tasks:
        print_task_list(console, plan, summary)
    print_plan_summary(console, plan, summary)
    console.print(f"launcher: {plan.cfg.launcher.kind}; artifacts: {plan.cfg.paths.artifacts}", markup=False)
    for _, cfg in plan.points:
        line = schedule_comparison(cfg)
        if line:
            console.print(line)
    for line in dict.fromkeys(llm_steps_summary(cfg) for _, cfg in plan.points):
        console.print(line, markup=False)


def llm_steps_summary(cfg) -> str:
    """One line: which steps of the pipeline ask an LLM, by which setting, and what serves it, e.g.
    ``LLM steps: classify (filters.classify_method=rules_llm) -> judge_llm Qwen/Qwen2.5-32B-Instruct (vllm, TP4)``."""
    from nmframe.curation.llm import SERVED_SPECS, served_spec

    steps, f = set(cfg.pipeline.steps), cfg.filters
    uses = []  # (step, setting, LLM name)
    if "classify" in steps and str(f.classify_method) == "rules_llm":
        uses.append(("classify", "filters.classify_method=rules_llm", cfg.prep.backend))
    if "decontaminate" in steps and str(f.decontam_method) == "rules_llm":
        uses.append(("decontaminate", "filters.decontam_method=rules_llm", cfg.prep.backend))
    uses += [(s, "prep.backend", cfg.prep.backend) for s in ("extract_problems", "extract_answers") if s in steps]
    if "validate_answers" in steps and cfg.answers.judge:
        uses.append(("validate_answers", "answers.judge", cfg.answers.judge))
    if "evaluate" in steps and cfg.evaluate.judge and "hle-math" in list(cfg.evaluate.benchmarks):
        uses.append(("evaluate hle-math", "evaluate.judge", cfg.evaluate.judge))
    uses = [u for u in uses if str(u[2] or "none") != "none"]
    if not uses:
        return "LLM steps: none (heuristic curation, math-verify answer agreement)"
    parts = []
    for name in dict.fromkeys(str(u[2]) for u in uses):
        who = ", ".join(f"{s} ({k})" for s, k, n in uses if str(n) == name)
        if name in SERVED_SPECS:
            spec = served_spec(cfg, name)
            name = f"{name} {spec.model} ({spec.backend}, TP{spec.tensor_parallel_size})"
        parts.append(f"{who} -> {name}")
    return "LLM steps: " + "; ".join(parts)


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


def outputs_line(cfg) -> str:
    """Where this plan's artifacts and runs go, and why there (see nmframe.config.project)."""
    from nmframe.config.project import default_outputs, outputs_origin

    origin = outputs_origin() if Path(cfg.paths.outputs) == default_outputs() else "paths.outputs"
    return f"outputs: {cfg.paths.outputs} (from {origin})"


def cmd_plan(args) -> int:
    from nmframe.cli_render import print_missing_inputs

    plan = _make_plan(args)
    console.print(outputs_line(plan.cfg), markup=False, highlight=False)
    print_plan(plan, tasks=args.tasks)
    print_recompute_reasons(plan)
    if plan.missing:
        print_missing_inputs(err_console, plan)
        err_console.print(f"[yellow]{len(plan.missing)} input file(s) missing: `nmframe run` refuses until they "
                          "exist[/yellow]")
    return 0


def cmd_run(args) -> int:
    from nmframe.cli_render import print_missing_inputs
    from nmframe.engine.execution import TaskState
    from nmframe.engine.failures import failure_lines, summarise
    from nmframe.engine.orchestrate import execute_plan
    from nmframe.launch import make_launcher

    plan = _make_plan(args)
    dry = plan.cfg.launcher.kind == "dryrun"
    if not args.quiet:
        print_plan(plan, tasks=args.tasks)
    print_recompute_reasons(plan)
    if plan.missing:
        print_missing_inputs(err_console, plan)
        if not dry:
            err_console.print(f"[red]cannot run:[/red] {len(plan.missing)} input file(s) missing; nothing was started",
                              highlight=False)
            return 2
    if not plan.to_run():
        console.print("[green]everything is cached: nothing to run[/green]")
    index = {e.task.key: e.task for e in plan.entries}

    def on_state(key, state):
        # tasks skipped behind a failure are counted once at the end, not listed one by one
        if not args.quiet and state != TaskState.SKIPPED:
            console.print(f"  {state.value:<9} {index[key].id}", markup=False, highlight=False)

    rd, outcomes = execute_plan(plan, make_launcher(plan.cfg, on_state=on_state), argv=sys.argv)
    if dry:
        console.print(f"dry run: {len(outcomes)} tasks printed, nothing executed (run dir {rd.path})")
        return 0
    failed = {k: o for k, o in outcomes.items() if not o.state.ok and o.state != TaskState.PENDING}
    waiting = sum(o.state == TaskState.PENDING for o in outcomes.values())
    if not outcomes:
        _print_noop(rd)
        return 0
    console.print(f"run {rd.path.name}: {sum(o.state.ok for o in outcomes.values())} finished, "
                  f"{len(failed)} not" + (f", {waiting} still queued" if waiting else "")
                  + f"; details: nmframe status {rd.path}", markup=False, highlight=False)
    if failed:
        states = rd.states()
        failures = summarise([e.task for e in plan.entries], outcomes,
                             {e.task.key: rd.log_path(e.task) for e in plan.to_run()},
                             {k: s.get("error", "") for k, s in states.items()})
        for line in failure_lines(failures):
            err_console.print(line, style=None if line.startswith(" ") else "red", markup=False, highlight=False)
        return 1
    if waiting:
        return 0  # submitted, not finished (a launcher that does not wait): `nmframe status` follows it
    console.print(f"report: nmframe report {rd.path}", markup=False, highlight=False)
    return 0


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
    from nmframe.cli_render import print_run_status, print_runs
    from nmframe.engine.runs import find_run, list_runs

    if args.outputs is None:
        from nmframe.config.project import default_outputs

        args.outputs = default_outputs()
    if args.run is None:
        runs = list_runs(args.outputs / "runs")[-args.n:]
        print_runs(console, runs, args.outputs / "runs")
        if not runs:
            console.print("no runs yet: try `nmframe run experiment=quickstart`")
        return 0
    print_run_status(console, find_run(args.run, args.outputs / "runs"))
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
    argv = sys.argv[1:] if argv is None else list(argv)
    if cli_hydra.wants_completion(argv):
        return cli_hydra.shell_completion(argv, build_parser())
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if hasattr(args, "overrides"):
            args.overrides = cli_hydra.pop_verbose(args.overrides)
        if cli_hydra.wants_show(args):
            return cli_hydra.show(args, _overrides(args))
        if args.verb == "report":
            from nmframe.report.command import run as cmd_report

            return cmd_report(args, console)
        if args.verb == "calibrate":
            from nmframe.calibrate import run as cmd_calibrate

            return cmd_calibrate(args, console, err_console)
        return {"run": cmd_run, "plan": cmd_plan, "status": cmd_status, "steps": cmd_steps,
                "verify": cmd_verify}[args.verb](args)
    except (OverrideError, ConfigError) as exc:
        err_console.print(f"[red]invalid config:[/red] {escape(str(exc))}", markup=True, highlight=False)
        err_console.print("see `nmframe --help` for the groups and their choices")
        return 2
    except SweepError as exc:
        err_console.print(f"[red]invalid sweep:[/red] {escape(str(exc))}", markup=True, highlight=False)
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
