"""Synthetic trace lengths, modes, TIR and sources drawn from the paper's Table 1 / Table 2 mix.

For benchmarks, tests and for costing a plan before any data exists.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from nmframe.buckets.assign import assign_buckets, checked_edges
from nmframe.buckets.paper import MODES, PAPER_EDGES, PAPER_TABLE1, PAPER_TABLE2, paper_bucket_totals

#: Shortest synthetic trace (prompt plus a minimal solution), in tokens.
MIN_TRACE_LEN = 512


def _allocate(n: int, weights: np.ndarray) -> np.ndarray:
    """Split ``n`` into integer parts proportional to ``weights`` (largest remainder)."""
    share = n * weights / weights.sum()
    base = np.floor(share).astype(np.int64)
    rest = n - int(base.sum())
    if rest:
        base[np.argsort(-(share - base), kind="stable")[:rest]] += 1
    return base


def paper_length_distribution(
    n: int, seed: int = 0, *, edges: Sequence[int] = PAPER_EDGES, min_len: int = MIN_TRACE_LEN
) -> np.ndarray:
    """``n`` synthetic trace lengths (int64, shuffled) following the paper's Table 2 bucket mix.

    Bucket sizes are split exactly proportionally to the AoPS + StackExchange counts of Table 2
    (6,772K / 489K / 196K / 43K), so ``n = 7_500_000`` reproduces the table. Within a bucket the
    length is log-uniform: ``[min_len, 16K]`` for the first bucket, ``(lo, hi]`` for the others
    (trace lengths are heavy-tailed, so a log-uniform shape is a reasonable, documented guess;
    the paper gives no within-bucket distribution).
    """
    e = checked_edges(edges)
    if e.size != 4:
        raise ValueError("the paper's mix has exactly four buckets")
    counts = _allocate(int(n), paper_bucket_totals(4))
    rng = np.random.default_rng(seed)
    los = [min_len] + [int(x) + 1 for x in e[:-1]]
    parts = []
    for c, lo, hi in zip(counts.tolist(), los, e.tolist()):
        x = np.exp(rng.uniform(math.log(lo), math.log(hi + 1), size=c))
        parts.append(np.clip(np.floor(x).astype(np.int64), lo, hi))
    out = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    rng.shuffle(out)
    return out


#: Assumed share of (high, medium, low) traces in each bucket above 16K. Long traces come
#: mostly from high-effort reasoning; the <=16K bucket's share is derived so that the overall
#: mode totals match Table 1 (about 38.6% / 35.6% / 25.8% high / medium / low).
LONG_BUCKET_MODE_SHARE: tuple[tuple[float, float, float], ...] = (
    (0.60, 0.30, 0.10),  # 16-32K
    (0.75, 0.20, 0.05),  # 32-64K
    (0.90, 0.08, 0.02),  # 64-128K
)


def _mode_shares() -> np.ndarray:
    totals = paper_bucket_totals(4)
    mode_tot = np.array([sum(sum(v) for (t, m), v in PAPER_TABLE1.items() if m == mode) for mode in MODES], float)
    mode_tot *= 1000.0
    long = np.asarray(LONG_BUCKET_MODE_SHARE) * totals[1:, None]
    first = mode_tot - long.sum(axis=0)
    first = np.clip(first, 0, None)
    return np.vstack([first / first.sum(), np.asarray(LONG_BUCKET_MODE_SHARE)])


def synthetic_traces(n: int, seed: int = 0, *, edges: Sequence[int] = PAPER_EDGES) -> dict[str, np.ndarray]:
    """Synthetic trace metadata: ``lengths``, ``modes`` (high/medium/low), ``tir`` (bool), ``source``.

    Lengths follow :func:`paper_length_distribution`. Modes depend on the bucket
    (:data:`LONG_BUCKET_MODE_SHARE`, an assumption: the paper only says the 128K stage is
    dominated by high mode), with overall totals matching Table 1. TIR given the mode and the
    source given the bucket follow Tables 1 and 2.
    """
    lengths = paper_length_distribution(n, seed, edges=edges)
    rng = np.random.default_rng(seed + 1)
    b = assign_buckets(lengths, edges)
    shares = _mode_shares()
    modes = np.empty(lengths.size, dtype=object)
    source = np.empty(lengths.size, dtype=object)
    tot2 = paper_bucket_totals(4)
    aops_share = np.asarray(PAPER_TABLE2["aops"], float) / tot2
    for i in range(4):
        idx = np.flatnonzero(b == i)
        modes[idx] = np.asarray(MODES, dtype=object)[rng.choice(3, size=idx.size, p=shares[i])]
        source[idx] = np.where(rng.random(idx.size) < aops_share[i], "aops", "stackexchange")
    tir = np.zeros(lengths.size, dtype=bool)
    for m in MODES:
        with_tir = sum(PAPER_TABLE1[(True, m)])
        p = with_tir / (with_tir + sum(PAPER_TABLE1[(False, m)]))
        idx = np.flatnonzero(modes == m)
        tir[idx] = rng.random(idx.size) < p
    return {"lengths": lengths, "modes": modes, "tir": tir, "source": source}
