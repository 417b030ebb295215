"""bucketize: each SFT trace to the smallest bucket stage that holds it; per-stage datasets.

Why a step: the schedule trains the buckets in order (e.g. 16K -> 32K -> 64K -> 128K), each with
its own packed length and parallelism, and which traces each stage sees must be fixed before
packing. Traces longer than the largest stage are dropped and counted, never truncated. The
final stage also replays a fraction of medium/low traces (``buckets.final_mix_fraction``; the
exact semantics are in :mod:`nmframe.sft.stages`).

With ``sft.fill_long_bins`` the step also decides, stage by stage, whether short traces move
out of earlier stages into the free space of a later stage's bins (:mod:`nmframe.sft.fill`):
only where the cost model predicts a shorter schedule. The cost depends on the model, every
stage's parallel layout and per-sample padding, the global batch and the epochs, so with the
fill on those are part of this step's key; with it off the key holds only the flag.

Output: ``stage_<i>.npy`` (trace indices into the prepare_sft arrays, final stage with the mix),
``stages.json`` (names, max lengths, counts, tokens), ``report.json`` (counts per bucket x mode x
TIR, dropped, the mix, the fill's decisions with both predictions), ``report.txt`` (the table)
and ``lengths.png`` (histogram with edges). A filled stage also gets ``stage_<i>_groups.npy`` and
``stage_<i>_group_offsets.npy`` (its bins: own traces plus the traces riding in their free space),
which :mod:`nmframe.steps.pack` keeps together.
"""
from __future__ import annotations

import numpy as np

from nmframe.buckets import plot_length_histogram
from nmframe.config.stage_plan import STAGE_PLAN_READS, build_stage_plan
from nmframe.costmodel import model_shape, schedule_cost
from nmframe.engine import Resources, Step, StepContext, register_step
from nmframe.engine.step import select
from nmframe.sft import fill
from nmframe.sft.stage_plan import StagePlan
from nmframe.sft.stages import assign_stages
from nmframe.sft.store import SftData


def fill_settings(plan: StagePlan, cfg) -> dict:
    """What the fill decision depends on (the key's extra part when ``sft.fill_long_bins`` is on)."""
    stages = {s.name: {"capacity": s.max_len, "sample_multiple": s.sample_multiple, "pad_multiple": s.pad_multiple,
                       "layout": s.layout.to_dict()} for s in plan}
    return {"stages": stages, "model": select(cfg, "model")["model"],
            "global_batch_size": plan.global_batch_size, "epochs": plan.epochs}


@register_step
class Bucketize(Step):
    name = "bucketize"
    VERSION = "2"
    description = "assign traces to the smallest length bucket (drop over-long), final-stage medium/low mix"
    inputs = ("prepare_sft",)
    slice_paths = ("buckets.stages", "buckets.final_mix_fraction", "buckets.seed", "sft.fill_long_bins")
    extra_reads = STAGE_PLAN_READS  # the fill settings (sft.fill_long_bins=true)

    def config_slice(self, cfg, params):
        out = select(cfg, *self.slice_paths)
        if bool(cfg.sft.fill_long_bins):
            out["fill"] = fill_settings(build_stage_plan(cfg), cfg)
        return out

    def resources(self, cfg, params):
        return Resources(cpus=1, time_min=60, mem_gb=16)

    def run(self, ctx: StepContext) -> None:
        cfg = ctx.cfg
        data = SftData(ctx.inputs["prepare_sft"])
        idx = data.index
        lengths = data.lengths
        stage_plan = build_stage_plan(cfg)
        names, edges = stage_plan.names, stage_plan.edges
        sa = assign_stages(lengths, idx["mode"], idx["tir"], names, edges,
                           mix_fraction=float(cfg.buckets.final_mix_fraction), seed=int(cfg.buckets.seed))
        indices, plan = sa.indices, None
        if bool(cfg.sft.fill_long_bins):
            cost = schedule_cost(stage_plan, model_shape(cfg.model), seed=int(cfg.buckets.seed))
            plan = fill.plan_fill(lengths, sa.indices, sa.mixed, cost)
            indices = plan.indices
        stages = []
        for i, (name, edge, ix) in enumerate(zip(names, edges, indices)):
            np.save(ctx.out_dir / f"stage_{i}.npy", ix)
            entry = {"index": i, "name": name, "max_len": edge, "traces": int(ix.size),
                     "tokens": int(lengths[ix].sum()) if ix.size else 0, "file": f"stage_{i}.npy"}
            if plan is not None and plan.groups[i] is not None:
                flat, off = fill.flatten_groups(plan.groups[i])
                np.save(ctx.out_dir / fill.GROUPS_FILE.format(i=i), flat)
                np.save(ctx.out_dir / fill.GROUP_OFFSETS_FILE.format(i=i), off)
                entry.update(groups=fill.GROUPS_FILE.format(i=i), group_offsets=fill.GROUP_OFFSETS_FILE.format(i=i),
                             bins=int(off.size - 1), filled_with=int(ix.size - sa.indices[i].size))
            stages.append(entry)
        ctx.write_json("stages.json", stages)
        report = sa.to_dict()
        report["stages"] = [{"name": s["name"], "max_len": s["max_len"], "traces": s["traces"]} for s in stages]
        report["fill"] = plan.to_dict() if plan is not None else {"enabled": False}
        report["dropped_examples"] = [{"problem_id": str(idx["problem_id"][i]), "length": int(lengths[i])}
                                      for i in sa.dropped[:20]]
        ctx.write_json("report.json", report)
        table = sa.report.format_table()
        (ctx.out_dir / "report.txt").write_text(table + "\n")
        plot_length_histogram(lengths, ctx.out_dir / "lengths.png", edges,
                              title=f"{lengths.size:,} traces, buckets {cfg.buckets.name}")
        ctx.log.info("bucketize:\n%s", table)
        if sa.dropped.size:
            ctx.log.warning("bucketize: %d traces longer than %d tokens dropped (never truncated)",
                            sa.dropped.size, edges[-1])
        if sa.mixed.size:
            ctx.log.info("bucketize: final stage %s replays %d medium/low traces %s", names[-1], sa.mixed.size,
                         sa.mixed_per_mode)
        if plan is not None:
            for d in plan.decisions:
                ctx.log.info("bucketize: fill %s: %d traces fit the free space, %s (predicted %s -> %s GPU-h): %s",
                             d["target"], d["moved"], "moved" if d["taken"] else "not moved",
                             d.get("gpu_hours_without"), d.get("gpu_hours_with"), d["reason"])
        ctx.log_metrics({"dropped": int(sa.dropped.size), "final_mix": int(sa.mixed.size),
                         "fill_moved": plan.moved if plan is not None else 0,
                         **{f"traces_{s['name']}": s["traces"] for s in stages}})
