"""Benchmark: packing the paper-scale trace mix, packed vs padded CPU training, cost model.

1. Draw 7.5M trace lengths from the paper's Table 2 mix, put each into its bucket and pack each
   bucket at its stage capacity (the final stage also gets the 10% medium/low mix): bins vs
   lower bound, utilisation and wall time.
2. Tokens/s of forward+backward on a tiny Qwen3 on CPU, packed (block-diagonal mask) vs
   right-padded batches, same samples (lengths from the same mix scaled down 64x).
3. The cost model's prediction for Qwen3-30B-A3B with the paper's parallelism: the 16K-bucket
   step time on 16K vs 128K parallelism and the bucketed schedule vs everything at 128K.

Usage: python bench/bench_packing.py [--n 7500000] [--steps 6] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def bench_packing(n: int, seed: int) -> None:
    from nmframe.buckets import DEFAULT_MIX_FRACTION, PAPER_EDGES, assign_buckets, paper_length_distribution
    from nmframe.packing import lower_bound, pack, utilisation

    t0 = time.perf_counter()
    x = paper_length_distribution(n, seed)
    print(f"[packing] {x.size:,} lengths drawn in {time.perf_counter() - t0:.2f} s")
    b = assign_buckets(x)
    rng = np.random.default_rng(seed)
    print(f"{'stage':<16}{'traces':>11}{'bins':>11}{'lower bd':>11}{'bins/lb':>9}{'util':>8}{'time s':>8}")
    total_t = 0.0
    for i, cap in enumerate(PAPER_EDGES):
        sel = x[b == i]
        t = time.perf_counter()
        bins = pack(sel, cap)
        dt = time.perf_counter() - t
        total_t += dt
        lb = lower_bound(sel, cap)
        print(f"{f'<={cap // 1024}K':<16}{sel.size:>11,}{len(bins):>11,}{lb:>11,}{len(bins) / lb:>9.4f}"
              f"{utilisation(bins, sel, cap):>8.3f}{dt:>8.2f}")
    print(f"{'all buckets':<16}{x.size:>11,}{'':>11}{'':>11}{'':>9}{'':>8}{total_t:>8.2f}")
    # final stage with the medium/low mix drawn from the earlier buckets
    last = x[b == 3]
    pool = x[(b >= 0) & (b < 3)]
    mixed = np.concatenate((last, rng.choice(pool, size=round(DEFAULT_MIX_FRACTION * last.size), replace=False)))
    t = time.perf_counter()
    bins = pack(mixed, PAPER_EDGES[-1])
    dt = time.perf_counter() - t
    lb = lower_bound(mixed, PAPER_EDGES[-1])
    print(f"{'128K + 10% mix':<16}{mixed.size:>11,}{len(bins):>11,}{lb:>11,}{len(bins) / lb:>9.4f}"
          f"{utilisation(bins, mixed, PAPER_EDGES[-1]):>8.3f}{dt:>8.2f}")
    # one pack call over all 7.5M lengths at 128K (the single-stage baseline)
    t = time.perf_counter()
    bins = pack(x, PAPER_EDGES[-1])
    dt = time.perf_counter() - t
    lb = lower_bound(x, PAPER_EDGES[-1])
    print(f"{'all @128K':<16}{x.size:>11,}{len(bins):>11,}{lb:>11,}{len(bins) / lb:>9.4f}"
          f"{utilisation(bins, x, PAPER_EDGES[-1]):>8.3f}{dt:>8.2f}")


def bench_cpu_training(steps: int, threads: int, seed: int) -> None:
    import torch
    import transformers

    from nmframe.buckets import paper_length_distribution
    from nmframe.packing import pack, packed_batch
    from nmframe.packing.hf_packed import packed_loss, padded_loss

    torch.set_num_threads(threads)
    cfg = transformers.Qwen3Config(
        vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=8,
    )
    cfg._attn_implementation = "sdpa"
    torch.manual_seed(0)
    model = transformers.Qwen3ForCausalLM(cfg)
    capacity, batch_samples = 256, 64  # 16K stage scaled down 64x; 64 samples per step
    lengths = paper_length_distribution(steps * batch_samples * 2, seed)
    lengths = np.clip(lengths[lengths <= 16_384] // 64, 8, capacity)[: steps * batch_samples]
    rng = np.random.default_rng(seed)
    samples = [rng.integers(1, 128, int(n)).tolist() for n in lengths]

    def run(fn) -> tuple[float, int]:
        fn(0)  # warm-up
        t = time.perf_counter()
        toks = 0
        for s in range(steps):
            toks += fn(s)
        return time.perf_counter() - t, toks

    def padded_step(s: int) -> int:
        chunk = samples[s * batch_samples : (s + 1) * batch_samples]
        model.zero_grad()
        loss, _ = padded_loss(model, chunk)
        loss.backward()
        return sum(len(c) for c in chunk)

    def packed_step(s: int, mode: str = "mask") -> int:
        chunk = samples[s * batch_samples : (s + 1) * batch_samples]
        bins = pack([len(c) for c in chunk], capacity)
        pbs = [packed_batch([chunk[i] for i in b], pad_multiple=capacity) for b in bins]
        model.zero_grad()
        loss, _ = packed_loss(model, pbs, mode=mode)
        loss.backward()
        return sum(len(c) for c in chunk)

    print(f"\n[cpu training] tiny Qwen3, {threads} threads, {steps} steps x {batch_samples} samples, "
          f"mean length {lengths.mean():.0f}, packed capacity {capacity}")
    res = {}
    for name, fn in (("padded (to longest in batch)", padded_step), ("packed, 4D mask", packed_step),
                     ("packed, position_ids", lambda s: packed_step(s, "position_ids"))):
        dt, toks = run(fn)
        res[name] = toks / dt
        print(f"  {name:<30} {toks / dt:>10,.0f} real tokens/s  ({dt:.2f} s)")
    base = res["padded (to longest in batch)"]
    for k, v in res.items():
        if v is not base:
            print(f"  {k} / padded = {v / base:.2f}x")


def bench_costmodel(n: int, seed: int) -> None:
    from nmframe.buckets import paper_length_distribution
    from nmframe.costmodel import QWEN3_30B_A3B, CostModel, full_context_stages, paper_comparison, paper_stages

    x = paper_length_distribution(n, seed)
    t = time.perf_counter()
    cmp_ = paper_comparison(x, seed=seed)
    dt = time.perf_counter() - t
    print(f"\n[cost model] Qwen3-30B-A3B, 256 GPUs, global batch 2048 samples, 2 epochs ({dt:.1f} s)")
    print(cmp_.summary())
    cm = CostModel(QWEN3_30B_A3B, efficiency=cmp_.calibrated)
    print("\nbucketed schedule (fitted constants, per-sample attention):")
    print(cm.schedule(paper_stages(QWEN3_30B_A3B, x, seed=seed)).table())
    print("\nall traces at 128K:")
    print(cm.schedule(full_context_stages(QWEN3_30B_A3B, x, seed=seed)).table())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=7_500_000)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip", nargs="*", default=[], choices=["packing", "training", "costmodel"])
    a = ap.parse_args()
    if "packing" not in a.skip:
        bench_packing(a.n, a.seed)
    if "training" not in a.skip:
        bench_cpu_training(a.steps, a.threads, a.seed)
    if "costmodel" not in a.skip:
        bench_costmodel(a.n, a.seed)


if __name__ == "__main__":
    main()
