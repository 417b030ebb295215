"""The `nmframe calibrate` verb: fit the cost model to a run's measured stage step times.

Reads every finished ``train_stage`` task of a run (``losses.json``: seconds per step), rebuilds
the cost model's view of each stage from the run's config (layout, batch, the stage's trace
lengths from its ``prepare_sft`` artifact, else the paper's length mix), fits the constants
(:mod:`nmframe.costmodel.calibrate`) and writes a profile; ``costmodel.profile=<path>`` makes
``nmframe plan`` and the report's predicted step times use it.
"""
from __future__ import annotations

import json
from pathlib import Path

from omegaconf import OmegaConf

FIT_CHOICES = ("auto", "all", "three", "tied", "compute")


class CalibrateError(ValueError):
    """The run cannot be calibrated from (one line for the command line)."""


def add_arguments(p) -> None:
    p.add_argument("run", help="a run directory, a run name under <outputs>/runs, or an experiment name "
                               "(its latest run)")
    p.add_argument("--out", type=Path, default=Path("costmodel_profile.yaml"),
                   help="the profile to write (default: costmodel_profile.yaml)")
    p.add_argument("--outputs", type=Path, default=Path("outputs"), help="the outputs folder (default: outputs)")
    p.add_argument("--fit", choices=FIT_CHOICES, default="auto",
                   help="which constants to fit: all four (>= 4 stages), three (GEMM, attention, comm), tied (one "
                        "compute efficiency + comm), compute; auto: as many as the stages allow")
    p.add_argument("--model", help="the model.name to calibrate when the run trained several")
    p.add_argument("--skip-first", type=int, default=1, metavar="N",
                   help="leading steps of each stage left out of its mean (warm-up; default 1, kept when a stage "
                        "has no more steps)")


def _mean_step_time(times: list[float], skip: int) -> tuple[float, int]:
    t = [float(v) for v in times]
    if len(t) > skip:
        t = t[skip:]
    return sum(t) / len(t), len(t)


def collect_measurements(run_dir: Path, skip_first: int = 1) -> dict[str, tuple]:
    """``{model name: (shape, base constants, [Measurement, ...])}`` from a run's finished
    train_stage tasks. Raises CalibrateError when there is none."""
    from nmframe.config.stage_plan import build_stage_plan
    from nmframe.costmodel import config_constants, model_shape
    from nmframe.costmodel.calibrate import Measurement
    from nmframe.costmodel.plan import plan_stage
    from nmframe.engine.runs import RunDir

    rd = RunDir(Path(run_dir))
    tasks = rd.tasks()
    cfgs = [OmegaConf.load(p) for p in sorted((rd.path / "points").glob("*.yaml"))]
    if not cfgs:
        raise CalibrateError(f"run {rd.path} has no composed config (points/*.yaml)")
    artifacts = Path(rd.info().get("artifacts") or cfgs[0].paths.artifacts)
    out: dict[str, tuple] = {}
    trained = [(k, e) for k, e in tasks.items() if e["task"]["step"] == "train_stage"]
    for key, entry in sorted(trained, key=lambda kv: kv[1]["task"]["params"].get("index", 0)):
        losses = artifacts / "train_stage" / key / "losses.json"
        if not losses.is_file():
            continue
        times = json.loads(losses.read_text()).get("step_times") or []
        if not times:
            continue
        cfg = cfgs[(entry.get("points") or [0])[0]]
        name = str(entry["task"]["params"]["stage"])
        lengths = None
        sft_key = entry["task"].get("inputs", {}).get("prepare_sft")
        if sft_key and (artifacts / "prepare_sft" / sft_key).is_dir():
            from nmframe.sft.store import SftData

            lengths = SftData(artifacts / "prepare_sft" / sft_key).lengths
        stage = plan_stage(build_stage_plan(cfg), name, lengths)
        if stage is None:
            continue
        secs, n = _mean_step_time(times, skip_first)
        shape = model_shape(cfg.model)
        slot = out.setdefault(shape.name, (shape, config_constants(cfg), []))
        slot[2].append(Measurement(stage, secs, n, f"train_stage/{key}"))
    if not out:
        where = (f"{len(trained)} train_stage task(s), none finished with step times" if trained
                 else "no train_stage task")
        raise CalibrateError(f"run {rd.path} has no train_stage step times to calibrate from ({where}); "
                             "train at least one stage (nmframe run ... with train_stage in pipeline.steps) first")
    return out


def run(args, console, err_console=None) -> int:
    from nmframe.costmodel.calibrate import calibrate_profile
    from nmframe.costmodel.constants import write_constants
    from nmframe.engine.runs import find_run

    rd = find_run(args.run, Path(args.outputs) / "runs")
    try:
        found = collect_measurements(rd.path, args.skip_first)
        if args.model is None and len(found) > 1:
            raise CalibrateError(f"run {rd.path} trained several models ({', '.join(sorted(found))}); "
                                 "pick one with --model")
        if args.model is not None and args.model not in found:
            raise CalibrateError(f"run {rd.path} has no train_stage step times of model {args.model!r} "
                                 f"(it has: {', '.join(sorted(found))})")
        shape, base, ms = found[args.model or next(iter(found))]
        cal = calibrate_profile(ms, shape, base=base, fit=args.fit, name=Path(args.out).stem, source=str(rd.path))
    except ValueError as exc:
        (err_console or console).print(f"nmframe calibrate: {exc}", style="red", markup=False, highlight=False)
        return 2
    header = (f"Cost-model profile fitted by `nmframe calibrate` to {cal.fit.points} measured stage step time(s) of\n"
              f"{rd.path} ({shape.name}). Use it with: costmodel.profile={Path(args.out).resolve()}")
    path = write_constants(cal.profile, args.out, header)
    console.print(cal.summary(), markup=False, highlight=False)
    console.print(f"wrote {path}; plan with it: costmodel.profile={path.resolve()}", markup=False, highlight=False)
    return 0
