"""Training throughput and schedule cost: why the recipe packs and buckets.

1. CPU tokens/s of the tiny Qwen3 student on packed bins vs right-padded batches of the same
   samples (forward + backward + AdamW step), lengths heavy-tailed like reasoning traces.
2. The cost model's predicted speedup of the paper's bucketed schedule vs one 128K stage for
   Qwen3-30B-A3B on 256 H100s (paper: 2-3x; ~18 s vs ~25 s per step on the 16K bucket), and the
   same comparison through the config layer (``nmframe.costmodel.bucketed_vs_single``).
3. Filling the long stages' free bin space with short traces (``sft.fill_long_bins``,
   :mod:`nmframe.sft.fill`) for Qwen3-30B-A3B with the paper's parallelism and length mix:
   the long stages' utilisation before/after and the predicted GPU-hours with and without the
   fill, for packed sequences computed at their own length (the trainers here) and at the full
   context (a fixed-shape trainer).

Run: python bench/bench_training.py [--samples 96] [--n 1000000] [--fill-n 500000]
"""
from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch

warnings.filterwarnings("ignore")


def throughput(samples: int, capacity: int, batch: int, seed: int = 0) -> dict:
    from nmframe.config import compose
    from nmframe.models.tiny import build_tiny_model, build_tiny_tokenizer
    from nmframe.packing import pack, packed_batch
    from nmframe.packing.hf_packed import packed_loss, padded_loss

    cfg = compose([])
    tok = build_tiny_tokenizer(512)
    rng = np.random.default_rng(seed)
    lengths = np.exp(rng.uniform(np.log(32), np.log(capacity), samples)).astype(int)
    seqs = [rng.integers(20, 500, n) for n in lengths]
    real = int(lengths.sum())
    out = {}
    for kind in ("packed", "padded"):
        model = build_tiny_model(cfg.model, seed=0, tokenizer=tok)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        torch.manual_seed(0)
        t0 = time.perf_counter()
        computed = 0
        if kind == "packed":
            for b in pack(lengths, capacity):
                pb = packed_batch([seqs[i] for i in b], pad_multiple=128)
                loss, n = packed_loss(model, pb)
                (loss / n).backward()
                opt.step()
                opt.zero_grad()
                computed += pb.length
        else:
            order = rng.permutation(samples)
            for k in range(0, samples, batch):
                idx = order[k:k + batch]
                width = int(lengths[idx].max())
                loss, n = padded_loss(model, [seqs[i] for i in idx])
                (loss / n).backward()
                opt.step()
                opt.zero_grad()
                computed += width * len(idx)
        dt = time.perf_counter() - t0
        out[kind] = {"seconds": dt, "tokens_per_s": real / dt, "computed_tokens": computed,
                     "utilisation": real / computed}
    return out


def fill_long_bins(n: int) -> None:
    import dataclasses

    from nmframe.buckets import synthetic_traces
    from nmframe.config import compose
    from nmframe.sft.fill import plan_fill
    from nmframe.sft.stages import assign_stages
    from nmframe.config.stage_plan import build_stage_plan
    from nmframe.costmodel import model_shape, schedule_cost

    cfg = compose(["model=qwen3_30b_a3b", "buckets=paper", "trainer=megatron", "sft.fill_long_bins=true"])
    tr = synthetic_traces(n, seed=0)
    stage_plan = build_stage_plan(cfg)
    sa = assign_stages(tr["lengths"], tr["modes"], tr["tir"], stage_plan.names, stage_plan.edges,
                       mix_fraction=float(cfg.buckets.final_mix_fraction), seed=0)
    cost = schedule_cost(stage_plan, model_shape(cfg.model), seed=int(cfg.buckets.seed))
    base = dataclasses.replace(cost, scale=7_500_000 / n)
    print(f"\nfill long bins (sft.fill_long_bins), Qwen3-30B-A3B, paper parallelism, {n:,} synthetic traces "
          "(Table 2 mix, final mix 0.1) scaled to 7.5M, uncalibrated constants:")
    for label, fixed in (("packed sequences at their own length (trainers here)", False),
                         ("packed sequences at the full context (fixed shape)", True)):
        t0 = time.perf_counter()
        plan = plan_fill(tr["lengths"], sa.indices, sa.mixed, dataclasses.replace(base, fixed_shape=fixed))
        print(f"  {label}, {time.perf_counter() - t0:.1f} s:")
        for d in plan.decisions:
            if not d["moved"]:
                print(f"    {d['target']:<8} {d['reason']}")
                continue
            src = ", ".join(f"{k} {v:,}" for k, v in d["moved_from"].items())
            print(f"    {d['target']:<8} utilisation {d['utilisation_before']:.1%} -> {d['utilisation_after']:.1%} "
                  f"({d['bins_before']:,} -> {d['bins_after']:,} bins), {d['moved']:,} traces fit ({src}): "
                  f"{d['gpu_hours_without']:,.0f} -> {d['gpu_hours_with']:,.0f} GPU-h, "
                  f"{'moved' if d['taken'] else 'not moved'}")
        print(f"    schedule: {plan.gpu_hours_without:,.0f} GPU-h without the fill, {plan.gpu_hours_with:,.0f} with it "
              f"({plan.moved:,} traces moved)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=96)
    ap.add_argument("--capacity", type=int, default=2048)
    ap.add_argument("--batch", type=int, default=8, help="samples per padded batch")
    ap.add_argument("--n", type=int, default=1_000_000, help="synthetic traces for the cost model")
    ap.add_argument("--fill-n", type=int, default=500_000, help="synthetic traces for the fill comparison")
    args = ap.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))

    r = throughput(args.samples, args.capacity, args.batch)
    print(f"tiny Qwen3 on CPU, {args.samples} samples of 32..{args.capacity} tokens (log-uniform):")
    for k, v in r.items():
        print(f"  {k:<7} {v['tokens_per_s']:>9,.0f} real tokens/s  {v['seconds']:6.2f} s  "
              f"utilisation {v['utilisation']:.1%} of {v['computed_tokens']:,} computed tokens")
    print(f"  packed / padded speedup: {r['packed']['tokens_per_s'] / r['padded']['tokens_per_s']:.2f}x")

    from nmframe.costmodel import paper_comparison

    t0 = time.perf_counter()
    pc = paper_comparison(n=args.n, pack_sample=100_000)
    print(f"\ncost model, Qwen3-30B-A3B, 256 H100, {args.n:,} synthetic traces (Table 2 mix), "
          f"{time.perf_counter() - t0:.1f} s:")
    print("  " + pc.summary().replace("\n", "\n  "))

    from nmframe.config import compose
    from nmframe.config.stage_plan import build_stage_plan
    from nmframe.costmodel import bucketed_vs_single, model_shape

    cfg = compose(["model=qwen3_30b_a3b", "buckets=paper", "trainer=megatron"])
    bv = bucketed_vs_single(build_stage_plan(cfg), model_shape(cfg.model))
    print("\nconfig layer (model=qwen3_30b_a3b buckets=paper trainer=megatron, paper length mix, 7.5M traces, "
          "uncalibrated constants):")
    print("  " + bv["table"].replace("\n", "\n  "))
    print(f"  bucketed {bv['bucketed_gpu_hours']:,.0f} GPU-h vs single 128K stage {bv['single_gpu_hours']:,.0f} GPU-h: "
          f"{bv['speedup']:.2f}x")

    fill_long_bins(args.fill_n)


if __name__ == "__main__":
    main()
