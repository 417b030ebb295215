"""Cost-model estimates for a config's stage plan (step time, GPU-hours), for planning.

What a composed config knows, given as the typed stage plan
(:class:`nmframe.sft.stage_plan.StagePlan`: each stage's length and parallel layout, the GPU
count, global batch and epochs) and the model shape (:func:`model_shape` of ``cfg.model``).
Trace lengths come from the data when given (a prepare_sft artifact); otherwise from the
paper's length mix (arXiv:2512.15489, Table 2) scaled to the plan's largest stage, with the
paper's 7.5M traces, so a plan can be costed before any data exists. The constants are the
packaged ones calibrated to the paper's Table 7 (``constants/paper_h100.yaml``) unless the
config's ``costmodel.profile`` names a profile written by ``nmframe calibrate``; the
everything-at-the-largest-length baseline runs on ``costmodel.baseline_layout`` when set (the
paper experiments set the released recipe's TP8 CP8 EP8), else on the final stage's layout.
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

from nmframe.buckets import assign_buckets, paper_length_distribution

from .constants import Constants, load_constants
from .model import CostModel, ModelShape, Parallelism, Stage
from .paper import stage_for
from .schedule import ScheduleCost, StageSpec

if TYPE_CHECKING:
    from nmframe.sft.stage_plan import Layout, StagePlan

#: Traces in the paper's SFT set (Table 2 total), for costing before any data exists.
PAPER_TRACES = 7_500_000
SYNTHETIC_SAMPLE = 100_000


def model_shape(m) -> ModelShape:
    """The cost model's shape of a ``model`` config section."""
    moe = str(m.arch) == "moe"
    return ModelShape(str(m.name), layers=int(m.num_layers), hidden=int(m.hidden_size), ffn=int(m.ffn_hidden_size),
                      heads=int(m.num_attention_heads), kv_heads=int(m.num_kv_heads), head_dim=int(m.head_dim),
                      vocab=int(m.vocab_size), experts=int(m.num_experts or 0) if moe else 0,
                      active_experts=int(m.moe_router_topk or 0) if moe else 0,
                      moe_ffn=int(m.moe_ffn_hidden_size or 0) if moe else 0)


def parallelism(layout: "Layout") -> Parallelism:
    """The cost model's view of a stage's layout."""
    return Parallelism(gpus=layout.world, tp=layout.tp, cp=layout.cp, ep=layout.ep, etp=layout.etp, pp=layout.pp)


def config_constants(cfg) -> Constants:
    """The constants a config's plan uses: ``costmodel.profile`` if set, else the packaged ones."""
    from omegaconf import OmegaConf

    return load_constants(OmegaConf.select(cfg, "costmodel.profile", default=None))


def config_baseline(cfg, plan: "StagePlan") -> Parallelism | None:
    """``costmodel.baseline_layout`` on the plan's GPUs (None when unset: the final stage's)."""
    from omegaconf import OmegaConf

    from nmframe.errors import ConfigError

    spec = OmegaConf.select(cfg, "costmodel.baseline_layout", default=None)
    spec = {k: v for k, v in dict(OmegaConf.to_container(spec)).items() if v is not None} if spec else {}
    if not spec:
        return None
    dims = ("tp", "cp", "ep", "etp", "pp")
    unknown = sorted(set(spec) - set(dims))
    if unknown:
        raise ConfigError(f"costmodel.baseline_layout.{unknown[0]}", spec[unknown[0]], "unknown dimension",
                          allowed=", ".join(dims))
    try:
        return Parallelism(gpus=plan.final.layout.world, **{k: int(spec.get(k, 1)) for k in dims})
    except ValueError as exc:
        raise ConfigError("costmodel.baseline_layout", spec, str(exc)) from None


def cost_model(shape: ModelShape, constants: Constants | None = None) -> CostModel:
    """A cost model of ``shape`` with ``constants`` (default: the packaged calibrated ones)."""
    c = constants or load_constants()
    return CostModel(shape, hardware=c.hardware, efficiency=c.efficiency)


@functools.lru_cache(maxsize=8)
def _synthetic(last_edge: int, n: int = SYNTHETIC_SAMPLE) -> np.ndarray:
    x = paper_length_distribution(n, seed=0).astype(np.float64) * (last_edge / 131_072)
    return np.clip(np.ceil(x), 1, last_edge).astype(np.int64)


def _lengths(plan: "StagePlan", lengths, n_traces):
    if lengths is None:
        x = _synthetic(plan.final.max_len)
        return x, (PAPER_TRACES if n_traces is None else int(n_traces)) / x.size
    return np.asarray(lengths, dtype=np.int64), 1.0


_PACKED: dict[tuple, Stage] = {}  # packing a stage's traces is the costly part of an estimate


def _packed_stage(name: str, x: np.ndarray, max_len: int, par: Parallelism, global_batch: int,
                  epochs: float) -> Stage:
    """:func:`stage_for` memoised on its inputs (the trace lengths by content): a plan estimates each
    stage for its train_stage task and again for the bucketed-vs-single comparison."""
    import hashlib

    key = (name, max_len, par, global_batch, epochs, x.size, hashlib.blake2b(x.tobytes(), digest_size=16).digest())
    if key not in _PACKED:
        if len(_PACKED) >= 64:
            _PACKED.clear()
        _PACKED[key] = _disk_cached(key, lambda: stage_for(name, x, max_len, par, global_batch=global_batch,
                                                            epochs=epochs, pack_sample=50_000))
    return _PACKED[key]


_PACKED_FIELDS = ("name", "context", "steps", "tokens_per_step", "sum_sq_per_step", "utilisation", "global_batch")
PACK_CACHE_VERSION = 1  # bump when stage_for's packing or its Stage fields change


def _disk_cached(key: tuple, compute) -> Stage:
    """A packed stage from the cache folder (``$NMFRAME_CACHE/costmodel``), else ``compute()`` stored
    there: the paper length mix is deterministic, so every plan of a paper experiment packs the same
    stages. A cache that cannot be read or written is skipped, never an error."""
    import hashlib
    import json
    import os

    from nmframe.models.cache import cache_root

    par = key[2]
    digest = hashlib.blake2b(repr((PACK_CACHE_VERSION, key)).encode(), digest_size=20).hexdigest()
    path = cache_root() / "costmodel" / f"stage-{digest}.json"
    try:
        return Stage(parallel=par, **json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        pass
    st = compute()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps({f: getattr(st, f) for f in _PACKED_FIELDS}))
        os.replace(tmp, path)
    except OSError:
        pass
    return st


def _stage(plan: "StagePlan", name: str, max_len: int, x: np.ndarray, scale: float, layout: "Layout") -> Stage:
    par = parallelism(layout)
    st = _packed_stage(name, np.ascontiguousarray(x, dtype=np.int64), max_len, par, plan.global_batch_size,
                       plan.epochs)
    return Stage(name=st.name, context=st.context, parallel=par, steps=st.steps * scale,
                 tokens_per_step=st.tokens_per_step, sum_sq_per_step=st.sum_sq_per_step,
                 utilisation=st.utilisation, global_batch=st.global_batch)


def stage_lengths(plan: "StagePlan", x: np.ndarray) -> dict[str, np.ndarray]:
    """Trace lengths per stage (final stage without the small mix: it barely changes the cost)."""
    b = assign_buckets(x, plan.edges)
    return {s.name: x[b == s.index] for s in plan}


def plan_stage(plan: "StagePlan", stage_name: str, lengths=None, n_traces: int | None = None) -> Stage | None:
    """The cost model's :class:`Stage` of one planned stage (None when no trace falls in it):
    its traces from ``lengths`` (default the paper's length mix), its layout, batch and epochs."""
    x, scale = _lengths(plan, lengths, n_traces)
    stage = plan.by_name(stage_name)
    sel = stage_lengths(plan, x)[stage.name]
    if sel.size == 0:
        return None
    return _stage(plan, stage.name, stage.max_len, sel, scale, stage.layout)


def estimate_stage(plan: "StagePlan", shape: ModelShape, stage_name: str, lengths=None,
                   n_traces: int | None = None, *, constants: Constants | None = None) -> dict:
    """Predicted seconds per step, steps, hours and GPU-hours of one stage."""
    stage = plan.by_name(stage_name)
    source = "data" if lengths is not None else "paper length mix"
    st = plan_stage(plan, stage_name, lengths, n_traces)
    if st is None:
        return {"stage": stage.name, "step_time_s": 0.0, "steps": 0, "hours": 0.0, "gpu_hours": 0.0, "source": source}
    est = cost_model(shape, constants).schedule([st])
    s = est.stages[0]
    return {"stage": stage.name, "parallelism": s.stage.parallel.label(), "step_time_s": round(s.step.total_s, 3),
            "steps": round(s.stage.steps, 1), "hours": round(s.seconds / 3600, 3), "gpu_hours": round(s.gpu_hours, 2),
            "source": source}


def bucketed_vs_single(plan: "StagePlan", shape: ModelShape, lengths=None, n_traces: int | None = None, *,
                       constants: Constants | None = None, baseline: Parallelism | None = None) -> dict:
    """GPU-hours of the bucketed schedule vs every trace in one stage at the largest length
    (on ``baseline``, default the largest stage's parallelism)."""
    x, scale = _lengths(plan, lengths, n_traces)
    cm = cost_model(shape, constants)
    per = stage_lengths(plan, x)
    stages = [_stage(plan, s.name, s.max_len, per[s.name], scale, s.layout) for s in plan if per[s.name].size]
    last = plan.final
    fit = x[assign_buckets(x, [last.max_len]) >= 0]
    single_stage = _stage(plan, f"all@{last.name}", last.max_len, fit, scale, last.layout)
    single = cm.schedule([single_stage.with_parallel(baseline) if baseline else single_stage])
    bucketed = cm.schedule(stages)
    return {"bucketed_gpu_hours": bucketed.gpu_hours, "single_gpu_hours": single.gpu_hours,
            "bucketed_hours": bucketed.seconds / 3600, "single_hours": single.seconds / 3600,
            "speedup": single.seconds / bucketed.seconds if bucketed.seconds else float("nan"),
            "table": bucketed.table() + "\n" + single.table(),
            "source": "data" if lengths is not None else "paper length mix"}


def schedule_summary(plan: "StagePlan", shape: ModelShape, *, constants: Constants | None = None,
                     baseline: Parallelism | None = None) -> str:
    """One line: the bucketed schedule's GPU-hours against one stage at the largest length
    ("" for a single stage, where there is nothing to compare)."""
    if len(plan) < 2:
        return ""
    c = bucketed_vs_single(plan, shape, constants=constants, baseline=baseline)
    name = (constants or load_constants()).name
    at = f" on {baseline.label()}" if baseline else ""
    return (f"training schedule ({shape.name}, {c['source']}, cost-model constants {name}): bucketed "
            f"{c['bucketed_gpu_hours']:,.0f} GPU-h vs everything at {plan.final.name}{at} {c['single_gpu_hours']:,.0f} GPU-h "
            f"({c['speedup']:.2f}x)")


def schedule_cost(plan: "StagePlan", shape: ModelShape, seed: int = 0) -> ScheduleCost:
    """The cost of the plan's schedule for the long-bin fill (default constants; packed
    sequences at their own length)."""
    specs = [StageSpec(s.name, s.max_len, parallelism(s.layout), sample_multiple=s.sample_multiple,
                       pad_multiple=s.pad_multiple) for s in plan]
    return ScheduleCost(CostModel(shape), specs, global_batch=plan.global_batch_size, epochs=plan.epochs, seed=seed)
