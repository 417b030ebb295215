"""Cost-model estimates for a config's training stages (step time, GPU-hours), for the plan.

Wraps :mod:`nmframe.costmodel` with what a composed config knows: the model shape
(``model.*``), each stage's parallel layout (``parallelism.*`` via
:func:`nmframe.training.layout.check_parallel_layout`), the GPU count (``trainer.nodes x
gpus_per_node``), global batch and epochs. Trace lengths come from the data when given (a
prepare_sft artifact); otherwise from the paper's length mix (Table 2) scaled to the config's
largest bucket, with the paper's 7.5M traces, so a plan can be costed before any data exists.
The efficiency constants are the cost model's defaults (not calibrated on this cluster).
"""
from __future__ import annotations

import functools

import numpy as np

from nmframe.buckets import assign_buckets, paper_length_distribution
from nmframe.training.layout import check_parallel_layout

PAPER_TRACES = 7_500_000
SYNTHETIC_SAMPLE = 100_000


def model_shape(m):
    from nmframe.costmodel import ModelShape

    moe = str(m.arch) == "moe"
    return ModelShape(str(m.name), layers=int(m.num_layers), hidden=int(m.hidden_size), ffn=int(m.ffn_hidden_size),
                      heads=int(m.num_attention_heads), kv_heads=int(m.num_kv_heads), head_dim=int(m.head_dim),
                      vocab=int(m.vocab_size), experts=int(m.num_experts or 0) if moe else 0,
                      active_experts=int(m.moe_router_topk or 0) if moe else 0,
                      moe_ffn=int(m.moe_ffn_hidden_size or 0) if moe else 0)


@functools.lru_cache(maxsize=8)
def _synthetic(last_edge: int, n: int = SYNTHETIC_SAMPLE) -> np.ndarray:
    x = paper_length_distribution(n, seed=0).astype(np.float64) * (last_edge / 131_072)
    return np.clip(np.ceil(x), 1, last_edge).astype(np.int64)


def _lengths(cfg, lengths, n_traces):
    edges = [int(s.max_len) for s in cfg.buckets.stages]
    if lengths is None:
        x = _synthetic(edges[-1])
        return x, (PAPER_TRACES if n_traces is None else int(n_traces)) / x.size
    x = np.asarray(lengths, dtype=np.int64)
    return x, 1.0


def _stage(cfg, name, max_len, x, scale, layout):
    from nmframe.costmodel import Parallelism, Stage
    from nmframe.costmodel.paper import stage_for

    par = Parallelism(gpus=layout["world"], tp=layout["tp"], cp=layout["cp"], ep=layout["ep"], etp=layout["etp"],
                      pp=layout["pp"])
    st = stage_for(name, x, max_len, par, global_batch=int(cfg.trainer.global_batch_size),
                   epochs=float(cfg.trainer.epochs), pack_sample=50_000)
    return Stage(name=st.name, context=st.context, parallel=par, steps=st.steps * scale,
                 tokens_per_step=st.tokens_per_step, sum_sq_per_step=st.sum_sq_per_step,
                 utilisation=st.utilisation, global_batch=st.global_batch)


def stage_lengths(cfg, x: np.ndarray) -> dict[str, np.ndarray]:
    """Trace lengths per stage (final stage without the small mix: it barely changes the cost)."""
    edges = [int(s.max_len) for s in cfg.buckets.stages]
    b = assign_buckets(x, edges)
    return {str(s.name): x[b == i] for i, s in enumerate(cfg.buckets.stages)}


def estimate_stage(cfg, stage_name: str, lengths=None, n_traces: int | None = None) -> dict:
    """Predicted seconds per step, steps, hours and GPU-hours of one stage."""
    from nmframe.costmodel import CostModel

    x, scale = _lengths(cfg, lengths, n_traces)
    layout = check_parallel_layout(cfg, stage_name)
    stage = next(s for s in cfg.buckets.stages if str(s.name) == stage_name)
    sel = stage_lengths(cfg, x)[stage_name]
    if sel.size == 0:
        return {"stage": stage_name, "step_time_s": 0.0, "steps": 0, "hours": 0.0, "gpu_hours": 0.0,
                "source": "data" if lengths is not None else "paper length mix"}
    est = CostModel(model_shape(cfg.model)).schedule([_stage(cfg, stage_name, int(stage.max_len), sel, scale, layout)])
    s = est.stages[0]
    return {"stage": stage_name, "parallelism": s.stage.parallel.label(), "step_time_s": round(s.step.total_s, 3),
            "steps": round(s.stage.steps, 1), "hours": round(s.seconds / 3600, 3), "gpu_hours": round(s.gpu_hours, 2),
            "source": "data" if lengths is not None else "paper length mix"}


def bucketed_vs_single(cfg, lengths=None, n_traces: int | None = None) -> dict:
    """GPU-hours of the config's bucketed schedule vs every trace in one stage at the largest
    length (with the largest stage's parallelism)."""
    from nmframe.costmodel import CostModel

    x, scale = _lengths(cfg, lengths, n_traces)
    cm = CostModel(model_shape(cfg.model))
    per = stage_lengths(cfg, x)
    stages = []
    for s in cfg.buckets.stages:
        sel = per[str(s.name)]
        if sel.size:
            stages.append(_stage(cfg, str(s.name), int(s.max_len), sel, scale,
                                 check_parallel_layout(cfg, str(s.name))))
    last = cfg.buckets.stages[-1]
    fit = x[assign_buckets(x, [int(last.max_len)]) >= 0]
    single = cm.schedule([_stage(cfg, f"all@{last.name}", int(last.max_len), fit, scale,
                                 check_parallel_layout(cfg, str(last.name)))])
    bucketed = cm.schedule(stages)
    return {"bucketed_gpu_hours": bucketed.gpu_hours, "single_gpu_hours": single.gpu_hours,
            "bucketed_hours": bucketed.seconds / 3600, "single_hours": single.seconds / 3600,
            "speedup": single.seconds / bucketed.seconds if bucketed.seconds else float("nan"),
            "table": bucketed.table() + "\n" + single.table(),
            "source": "data" if lengths is not None else "paper length mix"}
