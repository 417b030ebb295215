"""The paper's training schedule in cost-model terms, and its two timing claims.

Claims checked (Nemotron-Math, Qwen3-30B-A3B, 256 GPUs = 32 nodes x 8, global batch 2048):

1. On the 16K bucket a step takes ~18 s with the 16K parallelism (TP4 CP2 EP4) and ~25 s when
   forced onto the 128K parallelism (TP4 CP8 EP8).
2. The bucketed schedule (16K -> 32K -> 64K -> 128K) is 2-3x faster end to end than training
   everything at 128K.

Global batch 2048 counts *samples* (traces): 7.5M traces x 2 epochs / 2048 = 7,324 steps, which
matches the ~7,200 steps of the release notes, so ~2 epochs and a sample-counted batch are used.
Each stage's GEMM work is ``2048 x mean trace length`` tokens per step (divided by the packing
utilisation), and its attention work is the sum of squared *sample* lengths when packed samples
are kept apart (varlen / block-diagonal attention), or the sum of squared *packed-sequence*
lengths when they are not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from nmframe.buckets import (
    DEFAULT_MIX_FRACTION,
    PAPER_EDGES,
    assign_buckets,
    final_stage_mix,
)
from nmframe.packing import bin_loads, pack

from .model import (
    QWEN3_8B,
    QWEN3_30B_A3B,
    CostModel,
    Efficiency,
    FitResult,
    ModelShape,
    Parallelism,
    Stage,
    fit_efficiency,
)

__all__ = [
    "PAPER_GPUS",
    "PAPER_GLOBAL_BATCH",
    "PAPER_EPOCHS",
    "PAPER_PARALLELISM",
    "PAPER_STEP_TIME_16K",
    "PAPER_SPEEDUP_RANGE",
    "paper_parallelism",
    "stage_for",
    "paper_stages",
    "full_context_stages",
    "PaperComparison",
    "paper_comparison",
    "PAPER_TABLE7",
    "PAPER_TABLE7_FULL",
    "PAPER_TABLE7_SPEEDUP",
    "RELEASED_128K_PARALLELISM",
    "released_baseline_parallelism",
    "Table7Fit",
    "table7_stages",
    "table7_fit",
]

PAPER_GPUS = 256
PAPER_GLOBAL_BATCH = 2048
PAPER_EPOCHS = 2.0
#: Seconds per step of Qwen3-30B-A3B on the 16K bucket, by which parallelism it runs with.
PAPER_STEP_TIME_16K = {"16k": 18.0, "128k": 25.0}
PAPER_SPEEDUP_RANGE = (2.0, 3.0)

#: (TP, CP, EP, ETP) per stage context; PP = 1 throughout (paper Table 6; 8B from release notes).
PAPER_PARALLELISM: dict[str, dict[int, tuple[int, int, int, int]]] = {
    QWEN3_30B_A3B.name: {16_384: (4, 2, 4, 1), 32_768: (4, 4, 8, 1), 65_536: (4, 8, 8, 1), 131_072: (4, 8, 8, 1)},
    QWEN3_8B.name: {16_384: (2, 2, 1, 1), 32_768: (2, 4, 1, 1), 65_536: (4, 4, 1, 1), 131_072: (8, 8, 1, 1)},
}


def paper_parallelism(model: ModelShape | str, context: int, gpus: int = PAPER_GPUS) -> Parallelism:
    name = model if isinstance(model, str) else model.name
    tp, cp, ep, etp = PAPER_PARALLELISM[name][int(context)]
    return Parallelism(gpus=gpus, tp=tp, cp=cp, ep=ep, etp=etp)


def stage_for(
    name: str,
    lengths: np.ndarray,
    context: int,
    parallel: Parallelism,
    *,
    global_batch: int = PAPER_GLOBAL_BATCH,
    epochs: float = PAPER_EPOCHS,
    attention: str = "per_sample",
    pack_sample: int | None = 200_000,
    seed: int = 0,
    pad_to_capacity: bool = False,
    round_to: int = 128,
) -> Stage:
    """Stage from trace lengths, with utilisation (and per-bin attention) from real packing.

    Packed sequences are computed at their own length rounded up to ``round_to`` (varlen
    training needs no fixed shape); ``pad_to_capacity=True`` charges every packed sequence the
    full ``context`` instead (fixed-shape trainers), so the packing quality becomes compute.

    ``pack_sample`` packs a seeded subsample of at most that many traces (packing quality does
    not depend on scale once bins hold many items); None packs them all.
    """
    x = np.asarray(lengths, dtype=np.int64)
    sub = x
    if pack_sample is not None and x.size > pack_sample:
        sub = np.random.default_rng(seed).choice(x, size=pack_sample, replace=False)
    bins = pack(sub, context)
    loads = bin_loads(bins, sub).astype(np.float64)
    if pad_to_capacity:
        util = float(loads.sum() / (len(bins) * context))
    else:
        util = float(loads.sum() / (np.ceil(loads / round_to) * round_to).sum())
    if attention == "per_sample":
        sum_sq = float((x.astype(np.float64) ** 2).mean() * global_batch)
    elif attention == "per_bin":
        sum_sq = float((loads**2).sum() / sub.size * global_batch)
    else:
        raise ValueError(f"attention must be 'per_sample' or 'per_bin', got {attention!r}")
    return Stage(
        name=name,
        context=int(context),
        parallel=parallel,
        steps=epochs * x.size / global_batch,
        tokens_per_step=float(x.mean() * global_batch),
        sum_sq_per_step=sum_sq,
        utilisation=util,
        global_batch=global_batch,
    )


def _final_mix_lengths(lengths: np.ndarray, modes, edges, fraction: float, seed: int) -> np.ndarray:
    b = assign_buckets(lengths, edges)
    last = len(edges) - 1
    if modes is not None:
        mix = final_stage_mix(lengths, modes, edges, fraction=fraction, seed=seed)
        return lengths[mix.indices]
    # Without modes: draw the same number of traces from the earlier buckets (seeded).
    base = lengths[b == last]
    pool = lengths[(b >= 0) & (b < last)]
    k = min(int(round(fraction * base.size)), pool.size)
    extra = np.random.default_rng(seed).choice(pool, size=k, replace=False) if k else pool[:0]
    return np.concatenate((base, extra))


def paper_stages(
    model: ModelShape,
    lengths: Sequence[int] | np.ndarray,
    *,
    modes: Sequence[str] | np.ndarray | None = None,
    edges: Sequence[int] = PAPER_EDGES,
    gpus: int = PAPER_GPUS,
    global_batch: int = PAPER_GLOBAL_BATCH,
    epochs: float = PAPER_EPOCHS,
    mix_fraction: float = DEFAULT_MIX_FRACTION,
    attention: str = "per_sample",
    pack_sample: int | None = 200_000,
    seed: int = 0,
) -> list[Stage]:
    """The bucketed schedule: one stage per bucket with the paper's parallelism.

    Over-long traces are dropped. The final stage also gets ``mix_fraction`` medium/low traces
    from earlier buckets (:func:`nmframe.buckets.final_stage_mix`; without ``modes``, the same
    number of traces drawn from the earlier buckets).
    """
    x = np.asarray(lengths, dtype=np.int64)
    b = assign_buckets(x, edges)
    stages = []
    for i, cap in enumerate(edges):
        sel = x[b == i] if i < len(edges) - 1 else _final_mix_lengths(x, modes, edges, mix_fraction, seed)
        if sel.size == 0:
            continue
        stages.append(
            stage_for(
                f"{cap // 1024}K", sel, cap, paper_parallelism(model, cap, gpus),
                global_batch=global_batch, epochs=epochs, attention=attention, pack_sample=pack_sample, seed=seed,
            )
        )
    return stages


def full_context_stages(
    model: ModelShape,
    lengths: Sequence[int] | np.ndarray,
    *,
    edges: Sequence[int] = PAPER_EDGES,
    gpus: int = PAPER_GPUS,
    global_batch: int = PAPER_GLOBAL_BATCH,
    epochs: float = PAPER_EPOCHS,
    attention: str = "per_sample",
    pack_sample: int | None = 200_000,
    seed: int = 0,
) -> list[Stage]:
    """The baseline: every trace that fits trains in one stage at the largest context."""
    x = np.asarray(lengths, dtype=np.int64)
    x = x[assign_buckets(x, edges) >= 0]
    cap = int(edges[-1])
    return [
        stage_for(
            f"all@{cap // 1024}K", x, cap, paper_parallelism(model, cap, gpus),
            global_batch=global_batch, epochs=epochs, attention=attention, pack_sample=pack_sample, seed=seed,
        )
    ]


@dataclass(frozen=True)
class PaperComparison:
    """Predicted vs paper figures for Qwen3-30B-A3B (see module docstring)."""

    uncalibrated_16k: tuple[float, float]  # s/step on 16K bucket: (16K par, 128K par), default constants
    calibrated: Efficiency  # fitted to the paper's 18 s / 25 s
    calibrated_16k: tuple[float, float]
    mfu_16k: float  # implied MFU on the 16K bucket with 16K parallelism
    bucketed_hours: float
    full_hours: float
    speedup: float  # full 128K / bucketed, varlen (per-sample) attention
    bucketed_hours_per_bin: float
    full_hours_per_bin: float
    speedup_per_bin: float  # same, if attention spans whole packed sequences (no per-sample mask)
    bucketed_gpu_hours: float
    full_gpu_hours: float

    def summary(self) -> str:
        u, c = self.uncalibrated_16k, self.calibrated_16k
        e = self.calibrated
        return "\n".join(
            [
                "16K bucket, s/step (16K par TP4 CP2 EP4 / 128K par TP4 CP8 EP8): paper 18.0 / 25.0",
                f"  model, default constants : {u[0]:.1f} / {u[1]:.1f}  (ratio {u[1] / u[0]:.2f}, paper 1.39)",
                f"  model, fitted to paper   : {c[0]:.1f} / {c[1]:.1f}  (e_compute={e.linear:.3f}, "
                f"c_comm={e.comm:.2f}, MFU {self.mfu_16k:.1%})",
                f"schedule, per-sample attention: bucketed {self.bucketed_hours:.1f} h "
                f"({self.bucketed_gpu_hours:,.0f} GPU-h) vs all@128K {self.full_hours:.1f} h "
                f"({self.full_gpu_hours:,.0f} GPU-h): speedup {self.speedup:.2f}x (paper 2-3x)",
                f"schedule, attention over whole packed sequences: bucketed {self.bucketed_hours_per_bin:.1f} h vs"
                f" all@128K {self.full_hours_per_bin:.1f} h: speedup {self.speedup_per_bin:.2f}x",
            ]
        )


def paper_comparison(
    lengths: Sequence[int] | np.ndarray | None = None,
    *,
    model: ModelShape = QWEN3_30B_A3B,
    n: int = 7_500_000,
    seed: int = 0,
    pack_sample: int | None = 200_000,
    base: CostModel | None = None,
) -> PaperComparison:
    """Reproduce the paper's two timing claims with the cost model.

    ``lengths`` defaults to ``paper_length_distribution(n, seed)``. The efficiency constants are
    fitted (``fit="tied"``) to the two 16K-bucket step times; the schedule speedup is then a
    prediction.
    """
    from nmframe.buckets import paper_length_distribution

    x = paper_length_distribution(n, seed) if lengths is None else np.asarray(lengths, dtype=np.int64)
    cm = base or CostModel(model)
    b16 = x[assign_buckets(x, PAPER_EDGES) == 0]
    s16 = stage_for("16K", b16, 16_384, paper_parallelism(model, 16_384), pack_sample=pack_sample, seed=seed)
    s16_on_128 = s16.with_parallel(paper_parallelism(model, 131_072), "16K@128Kpar")
    unc = (cm.step_time(s16).total_s, cm.step_time(s16_on_128).total_s)
    fitted = cm.calibrate([(s16, PAPER_STEP_TIME_16K["16k"]), (s16_on_128, PAPER_STEP_TIME_16K["128k"])], fit="tied")
    cal = (fitted.step_time(s16).total_s, fitted.step_time(s16_on_128).total_s)

    out = {}
    for att in ("per_sample", "per_bin"):
        bucketed = fitted.schedule(paper_stages(model, x, attention=att, pack_sample=pack_sample, seed=seed))
        full = fitted.schedule(full_context_stages(model, x, attention=att, pack_sample=pack_sample, seed=seed))
        out[att] = (bucketed, full)
    bk, fl = out["per_sample"]
    bkb, flb = out["per_bin"]
    return PaperComparison(
        uncalibrated_16k=unc,
        calibrated=fitted.efficiency,
        calibrated_16k=cal,
        mfu_16k=fitted.mfu(s16),
        bucketed_hours=bk.seconds / 3600,
        full_hours=fl.seconds / 3600,
        speedup=fl.seconds / bk.seconds,
        bucketed_hours_per_bin=bkb.seconds / 3600,
        full_hours_per_bin=flb.seconds / 3600,
        speedup_per_bin=flb.seconds / bkb.seconds,
        bucketed_gpu_hours=bk.gpu_hours,
        full_gpu_hours=fl.gpu_hours,
    )


# -- Table 7: the paper's cost per stage, and the fit that reproduces it ----------------------
#: Training cost per stage of Qwen3-30B-A3B (arXiv:2512.15489, Table 7). The paper gives no
#: unit: 6.772M traces x 2 epochs / 2048 per step makes the 16K figure 17.7 s per step, which
#: matches the ~18 s/step the paper quotes, so these are seconds of cluster wall-clock.
PAPER_TABLE7: dict[str, float] = {"16K": 117_248.0, "32K": 58_988.0, "64K": 56_801.0, "128K": 22_197.0}
#: Everything at 128K, same table; the paper's speedup is 559,802 / 255,234 = 2.2x.
PAPER_TABLE7_FULL = 559_802.0
PAPER_TABLE7_SPEEDUP = 2.2
#: Traces in the paper's SFT set (Table 2: 6,772K + 489K + 196K + 43K).
PAPER_TRACES = 7_500_000

#: (TP, CP, EP, ETP) of the authors' released training recipe at 128K: it runs Qwen3-30B-A3B
#: at TP8 / CP8 / EP8, a larger layout than Table 6's 128K row (TP4); the everything-at-128K
#: baseline of Table 7 is costed on it. Qwen3-8B's released 128K layout is Table 6's.
RELEASED_128K_PARALLELISM: dict[str, tuple[int, int, int, int]] = {
    QWEN3_30B_A3B.name: (8, 8, 8, 1),
    QWEN3_8B.name: (8, 8, 1, 1),
}


def released_baseline_parallelism(model: ModelShape | str, gpus: int = PAPER_GPUS) -> Parallelism:
    name = model if isinstance(model, str) else model.name
    tp, cp, ep, etp = RELEASED_128K_PARALLELISM[name]
    return Parallelism(gpus=gpus, tp=tp, cp=cp, ep=ep, etp=etp)


@dataclass(frozen=True)
class Table7Fit:
    """The cost model fitted to Table 7 and its predictions (seconds of wall-clock per stage).

    ``loo_full_s`` is the leave-one-out check: the constants fitted to the four bucket stages
    only, then used to predict the everything-at-128K run the fit never saw.
    """

    fit: FitResult
    stages: tuple[str, ...]
    predicted_s: tuple[float, ...]      # per bucket stage, same order as ``stages``
    paper_s: tuple[float, ...]
    full_predicted_s: float
    loo: FitResult
    loo_full_s: float

    @property
    def stage_errors(self) -> tuple[float, ...]:
        return tuple(p / t - 1.0 for p, t in zip(self.predicted_s, self.paper_s))

    @property
    def full_error(self) -> float:
        return self.full_predicted_s / PAPER_TABLE7_FULL - 1.0

    @property
    def loo_full_error(self) -> float:
        return self.loo_full_s / PAPER_TABLE7_FULL - 1.0

    @property
    def speedup(self) -> float:
        return self.full_predicted_s / sum(self.predicted_s)

    @property
    def worst_stage_error(self) -> float:
        return max(abs(e) for e in self.stage_errors)


def table7_stages(
    lengths: Sequence[int] | np.ndarray | None = None,
    *,
    model: ModelShape = QWEN3_30B_A3B,
    baseline: Parallelism | None = None,
    n: int = 7_500_000,
    seed: int = 0,
    pack_sample: int | None = 200_000,
) -> tuple[list[Stage], Stage]:
    """The four bucket stages (Table 6 layouts) and the everything-at-128K baseline (the
    released recipe's 128K layout unless ``baseline`` is given) over ``lengths`` (default: the
    paper's length mix, ``paper_length_distribution(n, seed)``), with steps scaled to the
    paper's 7.5M traces (Table 2), whatever the sample size. Attention is per document."""
    from nmframe.buckets import paper_length_distribution

    x = paper_length_distribution(n, seed) if lengths is None else np.asarray(lengths, dtype=np.int64)
    scale = PAPER_TRACES / x.size  # a sample of the mix stands for the paper's 7.5M traces
    stages = [replace(s, steps=s.steps * scale) for s in paper_stages(model, x, pack_sample=pack_sample, seed=seed)]
    full = full_context_stages(model, x, pack_sample=pack_sample, seed=seed)[0]
    full = replace(full, steps=full.steps * scale)
    return stages, full.with_parallel(baseline or released_baseline_parallelism(model))


def table7_fit(
    lengths: Sequence[int] | np.ndarray | None = None,
    *,
    model: ModelShape = QWEN3_30B_A3B,
    baseline: Parallelism | None = None,
    base: CostModel | None = None,
    n: int = 7_500_000,
    seed: int = 0,
    pack_sample: int | None = 200_000,
) -> Table7Fit:
    """Fit the constants to Table 7's five costs (each stage's seconds / its steps = the
    measured seconds per step) and predict the five back, plus the leave-one-out figure."""
    stages, full = table7_stages(lengths, model=model, baseline=baseline, n=n, seed=seed, pack_sample=pack_sample)
    cm = base or CostModel(model)
    names = tuple(s.name for s in stages)
    missing = [k for k in names if k not in PAPER_TABLE7]
    if missing:
        raise ValueError(f"stages {missing} are not in Table 7 (it has {list(PAPER_TABLE7)})")
    paper = tuple(PAPER_TABLE7[k] for k in names)
    measured = [(s, t / s.steps) for s, t in zip(stages, paper)]
    fit = fit_efficiency(measured + [(full, PAPER_TABLE7_FULL / full.steps)], cm)
    fitted = replace(cm, efficiency=fit.efficiency)
    loo = fit_efficiency(measured, cm)
    return Table7Fit(
        fit=fit, stages=names, paper_s=paper,
        predicted_s=tuple(fitted.step_time(s).total_s * s.steps for s in stages),
        full_predicted_s=fitted.step_time(full).total_s * full.steps,
        loo=loo, loo_full_s=replace(cm, efficiency=loo.efficiency).step_time(full).total_s * full.steps,
    )
