"""pack: one task per bucket stage; the stage's epochs as global batches packed into bins.

Why a step: which traces share a packed sequence, in which order, is part of what a training
stage computes, so it is fixed (and cached) before training; the trainer only lays out each bin
(:func:`nmframe.packing.packed_batch`: ``cu_seqlens``, positions restarting per sample, padding
to ``lcm(128, 2 * CP)``). Each global batch of ``trainer.global_batch_size`` traces is packed into
bins of the stage's ``max_len`` with :func:`nmframe.packing.pack` (semantics in
:mod:`nmframe.sft.stages`). With context parallelism under Megatron every sample is also padded
to ``2 * CP`` (varlen CP kernels need it), and the packer accounts for that padding.

A stage that bucketize filled (``sft.fill_long_bins``, :mod:`nmframe.sft.fill`) comes with its
bins as groups (own traces plus the short traces riding in their free space); it is scheduled
with :func:`nmframe.sft.fill.build_group_schedule`, which keeps each group in one bin, so the
fill is not undone by the cut into global batches.

The key holds what changes the packing: the stage length, CP (from the stage's parallel layout),
the backend (per-sample padding), global batch, epochs, the shuffle seed, and (through the
inputs, and explicitly) the tokenizer and template: :func:`nmframe.sft.stage_plan.pack_settings`.

Output: ``bins.npy``, ``bin_offsets.npy``, ``step_offsets.npy`` (:class:`nmframe.sft.stages.Schedule`)
and ``pack.json``: steps, bins vs the lower bound, token utilisation, pad multiples.
"""
from __future__ import annotations

import numpy as np

from nmframe.config.stage_plan import PACK_SETTINGS_READS, build_stage_plan, stage_pack_settings
from nmframe.engine import Resources, Step, StepContext, TaskSpec, register_step
from nmframe.packing import lower_bound
from nmframe.sft.fill import GROUP_OFFSETS_FILE, GROUPS_FILE, build_group_schedule
from nmframe.sft.stages import build_schedule
from nmframe.sft.store import SftData


@register_step
class Pack(Step):
    name = "pack"
    VERSION = "1"
    description = "pack each stage's global batches into bins of the stage length (cu_seqlens, CP padding)"
    inputs = ("bucketize", "prepare_sft")
    extra_reads = (*PACK_SETTINGS_READS, "sft.fill_long_bins")

    def tasks(self, cfg, dag):
        ins = {"bucketize": dag.one("bucketize"), "prepare_sft": dag.one("prepare_sft")}
        return [TaskSpec(params={"stage": s.name}, inputs=dict(ins)) for s in build_stage_plan(cfg)]

    def config_slice(self, cfg, params):
        # The fill changes which traces (and groups) a stage packs: it reaches this key through the
        # bucketize input, and is named here too.
        return {**stage_pack_settings(cfg, build_stage_plan(cfg), params["stage"]),
                "fill_long_bins": bool(cfg.sft.fill_long_bins)}

    def resources(self, cfg, params):
        return Resources(cpus=1, time_min=60, mem_gb=16)

    def run(self, ctx: StepContext) -> None:
        s = stage_pack_settings(ctx.cfg, build_stage_plan(ctx.cfg), ctx.params["stage"])
        data = SftData(ctx.inputs["prepare_sft"])
        ids = np.load(ctx.inputs["bucketize"] / f"stage_{s['index']}.npy")
        lengths = data.lengths[ids]
        groups = ctx.inputs["bucketize"] / GROUPS_FILE.format(i=s["index"])
        if groups.exists():
            flat = np.load(groups)
            offsets = np.load(ctx.inputs["bucketize"] / GROUP_OFFSETS_FILE.format(i=s["index"]))
            if not np.array_equal(np.sort(flat), ids):
                raise ValueError(f"bucketize groups of stage {s['stage']} do not match its trace list")
            sched = build_group_schedule(flat, offsets, data.lengths, s["capacity"], global_batch=s["global_batch_size"],
                                         epochs=s["epochs"], seed=s["seed"], sample_multiple=s["sample_multiple"])
        else:
            sched = build_schedule(ids, lengths, s["capacity"], global_batch=s["global_batch_size"],
                                   epochs=s["epochs"], seed=s["seed"], sample_multiple=s["sample_multiple"])
        sched.save(ctx.out_dir)
        all_len = data.lengths[sched.bins] if sched.bins.size else np.zeros(0, np.int64)
        real = int(all_len.sum())
        eff = (-(-all_len // s["sample_multiple"]) * s["sample_multiple"]) if all_len.size else all_len
        loads = np.add.reduceat(eff, sched.bin_offsets[:-1]) if sched.num_bins else np.zeros(0, np.int64)
        padded = int((-(-loads // s["pad_multiple"]) * s["pad_multiple"]).sum())
        whole = lower_bound(lengths, s["capacity"], multiple=s["sample_multiple"]) if lengths.size else 0
        report = {
            **s, "traces": int(ids.size), "filled": groups.exists(), "steps": sched.num_steps, "bins": sched.num_bins,
            "lower_bound": sched.lower_bound,
            "bins_over_bound": round(sched.num_bins / sched.lower_bound - 1, 6) if sched.lower_bound else 0.0,
            "epoch_lower_bound": whole,
            "tokens": real, "utilisation": round(real / (sched.num_bins * s["capacity"]), 6) if sched.num_bins else 0.0,
            "utilisation_padded": round(real / padded, 6) if padded else 0.0,
            "samples_per_bin": round(float(all_len.size) / sched.num_bins, 3) if sched.num_bins else 0.0,
        }
        ctx.write_json("pack.json", report)
        ctx.log.info("pack %s: %d traces, %d steps, %d bins (lower bound %d, +%.2f%%), utilisation %.2f%% of %d-token bins",
                     s["stage"], ids.size, sched.num_steps, sched.num_bins, sched.lower_bound,
                     100 * report["bins_over_bound"], 100 * report["utilisation"], s["capacity"])
        ctx.log_metrics({k: report[k] for k in ("traces", "steps", "bins", "lower_bound", "utilisation",
                                                "utilisation_padded")})
