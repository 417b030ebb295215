"""Fit cost-model constants to step times measured on a cluster, and write them as a profile.

Why: the packaged constants are calibrated to the paper's cluster (arXiv:2512.15489, Table 7);
a plan for another cluster is only as good as constants fitted to its own measured steps.
Input: one :class:`Measurement` per trained stage (the cost model's view of the stage and its
measured seconds per step); output: a :class:`~nmframe.costmodel.constants.Constants` profile
that ``costmodel.profile=<path>`` makes the planner use. Reading measurements out of a run
directory is the command's job (:mod:`nmframe.calibrate`).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from .constants import Constants, load_constants
from .model import CostModel, FitResult, ModelShape, Stage, fit_efficiency

#: Constants each fit mode solves for (see :func:`nmframe.costmodel.model.fit_efficiency`).
FIT_SIZES = {"all": 4, "three": 3, "tied": 2, "compute": 1}


@dataclass(frozen=True)
class Measurement:
    """One trained stage: the cost model's view of it and its measured seconds per step."""

    stage: Stage
    seconds_per_step: float
    steps: int = 0          # how many measured steps the mean is over (informational)
    source: str = ""        # where it was read (informational)


@dataclass(frozen=True)
class Calibration:
    profile: Constants
    fit: FitResult
    measurements: tuple[Measurement, ...]

    def summary(self) -> str:
        e, f = self.profile.efficiency, self.fit
        n = FIT_SIZES[f.mode]
        lines = [f"fitted {n} constant{'s' if n > 1 else ''} (fit={f.mode}) to {f.points} measured stage step "
                 f"time{'s' if f.points > 1 else ''}: e_gemm={e.linear:.4f} e_attention={e.attention:.4f} "
                 f"c_comm={e.comm:.3f} d_doc={e.doc_overhead:.4g} s"
                 + (f" (at bound: {', '.join(f.at_bound)})" if f.at_bound else "")]
        lines.append(f"relative residual: rms {f.rms:.1%}, worst {f.worst:.1%}"
                     + (" (as many constants as points: an exact fit, no check)" if f.points <= n else ""))
        for m, r in zip(self.measurements, f.residuals):
            lines.append(f"  {m.stage.name:<12}{m.stage.parallel.label():<38} measured "
                         f"{m.seconds_per_step:10.4g} s/step  model {m.seconds_per_step * (1 + r):10.4g}  ({r:+.1%})")
        return "\n".join(lines)


def calibrate_profile(measurements: list[Measurement], shape: ModelShape, *, base: Constants | None = None,
                      fit: str = "auto", name: str = "profile", source: str = "") -> Calibration:
    """Fit the constants to ``measurements`` (hardware from ``base``, default the packaged
    constants) and return them as a profile. Raises ValueError naming what is missing."""
    if not measurements:
        raise ValueError("no measured step times to fit")
    base = base or load_constants()
    cm = CostModel(shape, hardware=base.hardware, efficiency=base.efficiency)
    result = fit_efficiency([(m.stage, m.seconds_per_step) for m in measurements], cm, fit=fit)
    info = {"source": source, "model": shape.name, "points": result.points, "mode": result.mode,
            "rms": round(result.rms, 4), "worst": round(result.worst, 4), "at_bound": list(result.at_bound),
            "stages": [{"stage": m.stage.name, "layout": m.stage.parallel.label(), "steps": m.steps,
                        "measured_s": round(m.seconds_per_step, 6), "residual": round(r, 4), "from": m.source}
                       for m, r in zip(measurements, result.residuals)],
            "base": base.name}
    profile = replace(base, name=name, efficiency=result.efficiency, fit=info, source="")
    return Calibration(profile, result, tuple(measurements))
