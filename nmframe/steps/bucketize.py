"""bucketize: each SFT trace to the smallest bucket stage that holds it; per-stage datasets.

Why a step: the schedule trains the buckets in order (e.g. 16K -> 32K -> 64K -> 128K), each with
its own packed length and parallelism, and which traces each stage sees must be fixed before
packing. Traces longer than the largest stage are dropped and counted, never truncated. The
final stage also replays a fraction of medium/low traces (``buckets.final_mix_fraction``; the
exact semantics are in :mod:`nmframe.sft.stages`).

Output: ``stage_<i>.npy`` (trace indices into the prepare_sft arrays, final stage with the mix),
``stages.json`` (names, max lengths, counts, tokens), ``report.json`` (counts per bucket x mode x
TIR, dropped, the mix), ``report.txt`` (the table) and ``lengths.png`` (histogram with edges).
"""
from __future__ import annotations

import numpy as np

from nmframe.buckets import plot_length_histogram
from nmframe.engine import Resources, Step, StepContext, register_step
from nmframe.sft.stages import assign_stages
from nmframe.sft.store import SftData


def stage_names_and_edges(cfg) -> tuple[list[str], list[int]]:
    return [str(s.name) for s in cfg.buckets.stages], [int(s.max_len) for s in cfg.buckets.stages]


@register_step
class Bucketize(Step):
    name = "bucketize"
    VERSION = "1"
    description = "assign traces to the smallest length bucket (drop over-long), final-stage medium/low mix"
    inputs = ("prepare_sft",)
    slice_paths = ("buckets.stages", "buckets.final_mix_fraction", "buckets.seed")

    def resources(self, cfg, params):
        return Resources(cpus=1, time_min=60, mem_gb=16)

    def run(self, ctx: StepContext) -> None:
        cfg = ctx.cfg
        data = SftData(ctx.inputs["prepare_sft"])
        idx = data.index
        lengths = data.lengths
        names, edges = stage_names_and_edges(cfg)
        sa = assign_stages(lengths, idx["mode"], idx["tir"], names, edges,
                           mix_fraction=float(cfg.buckets.final_mix_fraction), seed=int(cfg.buckets.seed))
        stages = []
        for i, (name, edge, ix) in enumerate(zip(names, edges, sa.indices)):
            np.save(ctx.out_dir / f"stage_{i}.npy", ix)
            stages.append({"index": i, "name": name, "max_len": edge, "traces": int(ix.size),
                           "tokens": int(lengths[ix].sum()) if ix.size else 0,
                           "file": f"stage_{i}.npy"})
        ctx.write_json("stages.json", stages)
        report = sa.to_dict()
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
        ctx.log_metrics({"dropped": int(sa.dropped.size), "final_mix": int(sa.mixed.size),
                         **{f"traces_{s['name']}": s["traces"] for s in stages}})
