"""Length buckets for the sequential long-context schedule (16K -> 32K -> 64K -> 128K).

Training in one 128K stage pays 128K-context parallelism for millions of short traces. The
recipe instead assigns every trace to the smallest bucket that holds it and trains the buckets in
order, each stage with its own packed length and parallelism. This module does the assignment
(traces longer than the largest bucket are dropped and counted, never truncated), reports the
per-bucket x mode x TIR counts, builds the final stage's data mix, draws synthetic lengths from
the paper's Table 2 mix for benchmarks and tests, and plots the length histogram.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "PAPER_EDGES",
    "PAPER_TABLE2",
    "PAPER_TABLE1",
    "MIN_TRACE_LEN",
    "DEFAULT_MIX_FRACTION",
    "assign_bucket",
    "assign_buckets",
    "split_by_bucket",
    "BucketReport",
    "FinalStageMix",
    "final_stage_mix",
    "paper_length_distribution",
    "synthetic_traces",
    "plot_length_histogram",
]

#: Upper edges (inclusive) of the four buckets, in tokens.
PAPER_EDGES: tuple[int, ...] = (16_384, 32_768, 65_536, 131_072)

#: Paper Table 2, traces per bucket (<=16K, 16-32K, 32-64K, >=64K). The printed AoPS <=16K
#: value is "175" (thousand); 1,750K is used because it makes the AoPS row sum to 2,122K, the
#: AoPS total of Table 1 (2,121K), and the grand total to the stated 7.5M traces.
PAPER_TABLE2: dict[str, tuple[int, ...]] = {
    "aops": (1_750_000, 235_000, 114_000, 23_000),
    "stackexchange": (5_022_000, 254_000, 82_000, 20_000),
}

#: Paper Table 1, traces (thousands) per (tir, mode) and source: (AoPS, StackExchange-Math).
PAPER_TABLE1: dict[tuple[bool, str], tuple[int, int]] = {
    (True, "high"): (466, 1106),
    (True, "medium"): (401, 945),
    (True, "low"): (271, 719),
    (False, "high"): (438, 1086),
    (False, "medium"): (354, 899),
    (False, "low"): (191, 621),
}

#: Shortest synthetic trace (prompt plus a minimal solution), in tokens.
MIN_TRACE_LEN = 512

#: Medium+low traces mixed into the final stage, as a fraction of the final bucket's trace
#: count. The paper only says "a small proportion". 0.1 is chosen because (a) at global batch
#: 2048 it puts ~190 medium/low traces into every step, so both modes are seen at every update of
#: the last stage, while (b) high mode still makes up >80% of the stage's traces and >99% of its
#: tokens (the mixed traces come from the short buckets, mean ~5K tokens against ~90K for a
#: final-bucket trace), and (c) those short traces mostly fill the ~28% of each 128K bin that a
#: single 64K-128K trace leaves empty, so the mix costs almost no extra packed sequences.
DEFAULT_MIX_FRACTION = 0.1

_MODES = ("high", "medium", "low")


def length_label(n: int) -> str:
    """16384 -> '16K', 512 -> '512', 1536 -> '1.5K': token counts as people write them."""
    if n < 1024:
        return str(int(n))
    k = n / 1024
    return f"{k:g}K" if k != int(k) else f"{int(k)}K"


def _edges(edges: Sequence[int]) -> np.ndarray:
    e = np.asarray(edges, dtype=np.int64)
    if e.ndim != 1 or e.size == 0 or (np.diff(e) <= 0).any():
        raise ValueError(f"edges must be a non-empty strictly increasing sequence, got {list(edges)}")
    return e


def assign_bucket(length: int, edges: Sequence[int] = PAPER_EDGES) -> int | None:
    """Index of the smallest bucket whose (inclusive) upper edge holds ``length``.

    Returns None when the trace is longer than the largest edge: such traces are dropped (and
    counted by :class:`BucketReport`), never truncated.
    """
    e = _edges(edges)
    i = int(np.searchsorted(e, int(length), side="left"))
    return None if i >= e.size else i


def assign_buckets(lengths: Sequence[int] | np.ndarray, edges: Sequence[int] = PAPER_EDGES) -> np.ndarray:
    """Vectorised :func:`assign_bucket`: int64 array of bucket indices, -1 for dropped traces."""
    e = _edges(edges)
    idx = np.searchsorted(e, np.asarray(lengths, dtype=np.int64), side="left").astype(np.int64)
    idx[idx >= e.size] = -1
    return idx


def split_by_bucket(lengths: Sequence[int] | np.ndarray, edges: Sequence[int] = PAPER_EDGES) -> list[np.ndarray]:
    """Trace indices per bucket (dropped traces are in none of them)."""
    b = assign_buckets(lengths, edges)
    order = np.argsort(b, kind="stable")
    counts = np.bincount(b[b >= 0], minlength=len(edges))
    start = int(np.count_nonzero(b < 0))
    out = []
    for c in counts.tolist():
        out.append(order[start : start + c])
        start += c
    return out


@dataclass
class BucketReport:
    """Trace counts per bucket x reasoning mode x TIR, plus the dropped (too long) traces.

    ``counts[(bucket, mode, tir)]``, ``tokens[bucket]`` and ``dropped[(mode, tir)]`` /
    ``dropped_tokens`` are plain ints, so the report serialises with :meth:`to_dict`.
    """

    edges: tuple[int, ...]
    counts: dict[tuple[int, str, bool], int] = field(default_factory=dict)
    tokens: dict[int, int] = field(default_factory=dict)
    dropped: dict[tuple[str, bool], int] = field(default_factory=dict)
    dropped_tokens: int = 0

    @classmethod
    def from_arrays(
        cls,
        lengths: Sequence[int] | np.ndarray,
        modes: Sequence[str] | np.ndarray | None = None,
        tir: Sequence[bool] | np.ndarray | None = None,
        edges: Sequence[int] = PAPER_EDGES,
    ) -> "BucketReport":
        lengths = np.asarray(lengths, dtype=np.int64)
        n = lengths.size
        modes = np.full(n, "all", dtype=object) if modes is None else np.asarray(modes, dtype=object)
        tir = np.zeros(n, dtype=bool) if tir is None else np.asarray(tir, dtype=bool)
        if modes.shape != (n,) or tir.shape != (n,):
            raise ValueError("lengths, modes and tir must have the same length")
        b = assign_buckets(lengths, edges)
        rep = cls(edges=tuple(int(x) for x in edges))
        names, inv = np.unique(modes.astype(str), return_inverse=True)
        k = names.size
        code = ((b + 1) * k + inv.reshape(-1)) * 2 + tir.astype(np.int64)
        hist = np.bincount(code, minlength=(len(edges) + 1) * k * 2)
        for c_idx in np.flatnonzero(hist).tolist():
            rest, t = divmod(c_idx, 2)
            bucket, m = divmod(rest, k)
            bucket -= 1
            mode, c = str(names[m]), int(hist[c_idx])
            if bucket < 0:
                rep.dropped[(mode, bool(t))] = c
            else:
                rep.counts[(bucket, mode, bool(t))] = c
        tok = np.bincount(b[b >= 0], weights=lengths[b >= 0], minlength=len(edges))
        rep.tokens = {i: int(x) for i, x in enumerate(tok)}
        rep.dropped_tokens = int(lengths[b < 0].sum())
        return rep

    def per_bucket(self) -> list[int]:
        out = [0] * len(self.edges)
        for (bucket, _, _), c in self.counts.items():
            out[bucket] += c
        return out

    @property
    def total_dropped(self) -> int:
        return sum(self.dropped.values())

    @property
    def total(self) -> int:
        return sum(self.counts.values()) + self.total_dropped

    def to_dict(self) -> dict:
        return {
            "edges": list(self.edges),
            "per_bucket": self.per_bucket(),
            "tokens": [self.tokens.get(i, 0) for i in range(len(self.edges))],
            "counts": [
                {"bucket": b, "mode": m, "tir": t, "count": c} for (b, m, t), c in sorted(self.counts.items(), key=str)
            ],
            "dropped": [{"mode": m, "tir": t, "count": c} for (m, t), c in sorted(self.dropped.items(), key=str)],
            "dropped_total": self.total_dropped,
            "dropped_tokens": self.dropped_tokens,
        }

    def format_table(self) -> str:
        """Plain-text table: one row per (mode, tir), one column per bucket, then dropped."""
        heads = [f"<={length_label(e)}" for e in self.edges] + ["dropped"]
        rows = sorted({(m, t) for (_, m, t) in self.counts} | set(self.dropped), key=lambda x: (str(x[0]), x[1]))
        lines = ["mode    tir   " + "".join(f"{h:>12}" for h in heads)]
        for m, t in rows:
            vals = [self.counts.get((i, m, t), 0) for i in range(len(self.edges))] + [self.dropped.get((m, t), 0)]
            lines.append(f"{m:<7} {'yes' if t else 'no':<5} " + "".join(f"{v:>12,}" for v in vals))
        lines.append("total         " + "".join(f"{v:>12,}" for v in self.per_bucket() + [self.total_dropped]))
        return "\n".join(lines)


@dataclass(frozen=True)
class FinalStageMix:
    """Trace indices of the final stage: its own bucket plus the mixed-in medium/low traces."""

    indices: np.ndarray  # sorted, base and mixed together
    base: np.ndarray  # traces of the final bucket
    mixed: np.ndarray  # medium/low traces sampled from earlier buckets
    mixed_per_mode: dict[str, int]


def final_stage_mix(
    lengths: Sequence[int] | np.ndarray,
    modes: Sequence[str] | np.ndarray,
    edges: Sequence[int] = PAPER_EDGES,
    *,
    fraction: float = DEFAULT_MIX_FRACTION,
    mix_modes: Sequence[str] = ("medium", "low"),
    seed: int = 0,
) -> FinalStageMix:
    """The final (largest) stage's traces.

    The final stage trains on every trace of the final bucket (mostly high mode, since long
    traces are mostly high-effort reasoning) plus ``round(fraction * n_final)`` traces of
    ``mix_modes`` drawn without replacement from the earlier buckets, split evenly over the
    modes (so the rarer low mode is not crowded out), capped by availability. The draw is a
    deterministic function of ``seed``. See :data:`DEFAULT_MIX_FRACTION` for the default.
    """
    if not 0.0 <= fraction:
        raise ValueError(f"fraction must be >= 0, got {fraction}")
    lengths = np.asarray(lengths, dtype=np.int64)
    modes = np.asarray(modes, dtype=object)
    if modes.shape != lengths.shape:
        raise ValueError("lengths and modes must have the same length")
    b = assign_buckets(lengths, edges)
    last = len(edges) - 1
    base = np.flatnonzero(b == last)
    earlier = (b >= 0) & (b < last)
    n_mix = int(round(fraction * base.size))
    rng = np.random.default_rng(seed)
    want = {m: n_mix // len(mix_modes) + (1 if i < n_mix % len(mix_modes) else 0) for i, m in enumerate(mix_modes)}
    picked, per_mode = [], {}
    for m in mix_modes:
        pool = np.flatnonzero(earlier & (modes == m))
        k = min(want[m], pool.size)
        sel = np.sort(rng.choice(pool, size=k, replace=False)) if k else np.zeros(0, dtype=np.int64)
        picked.append(sel)
        per_mode[m] = int(k)
    mixed = np.sort(np.concatenate(picked)) if picked else np.zeros(0, dtype=np.int64)
    return FinalStageMix(
        indices=np.sort(np.concatenate((base, mixed))).astype(np.int64),
        base=base.astype(np.int64),
        mixed=mixed.astype(np.int64),
        mixed_per_mode=per_mode,
    )


def _bucket_totals(edges_len: int) -> np.ndarray:
    tot = np.zeros(edges_len, dtype=np.float64)
    for row in PAPER_TABLE2.values():
        tot += np.asarray(row, dtype=np.float64)
    return tot


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
    e = _edges(edges)
    if e.size != 4:
        raise ValueError("the paper's mix has exactly four buckets")
    counts = _allocate(int(n), _bucket_totals(4))
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
    totals = _bucket_totals(4)
    mode_tot = np.array([sum(sum(v) for (t, m), v in PAPER_TABLE1.items() if m == mode) for mode in _MODES], float)
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
    tot2 = _bucket_totals(4)
    aops_share = np.asarray(PAPER_TABLE2["aops"], float) / tot2
    for i in range(4):
        idx = np.flatnonzero(b == i)
        modes[idx] = np.asarray(_MODES, dtype=object)[rng.choice(3, size=idx.size, p=shares[i])]
        source[idx] = np.where(rng.random(idx.size) < aops_share[i], "aops", "stackexchange")
    tir = np.zeros(lengths.size, dtype=bool)
    for m in _MODES:
        with_tir = sum(PAPER_TABLE1[(True, m)])
        p = with_tir / (with_tir + sum(PAPER_TABLE1[(False, m)]))
        idx = np.flatnonzero(modes == m)
        tir[idx] = rng.random(idx.size) < p
    return {"lengths": lengths, "modes": modes, "tir": tir, "source": source}


def plot_length_histogram(
    lengths: Sequence[int] | np.ndarray,
    path: str | Path,
    edges: Sequence[int] = PAPER_EDGES,
    *,
    title: str | None = None,
    bins: int = 120,
) -> Path:
    """Write a PNG histogram of trace lengths (log x axis) with the bucket edges marked.

    Each bucket is annotated with its trace count; traces beyond the last edge are reported
    as dropped in the legend. Uses the Agg canvas directly, so no display or global backend
    switch is needed.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    lengths = np.asarray(lengths, dtype=np.int64)
    e = _edges(edges)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    lo = max(1, int(lengths.min())) if lengths.size else 1
    hi = max(int(e[-1]), int(lengths.max()) if lengths.size else 1)
    grid = np.logspace(math.log10(lo), math.log10(hi + 1), bins)
    ax.hist(lengths, bins=grid, color="#4c72b0")
    ax.set_xscale("log")
    ax.set_yscale("log")
    counts = np.bincount(assign_buckets(lengths, e) + 1, minlength=e.size + 1)
    for i, x in enumerate(e.tolist()):
        ax.axvline(x, color="#c44e52", linestyle="--", linewidth=1)
        ax.text(x, 1.0, f" <={length_label(x)}\n {counts[i + 1]:,}", transform=ax.get_xaxis_transform(),
                va="top", ha="right", fontsize=8, color="#c44e52",
                bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 1})
    ax.plot([], [], " ", label=f"dropped (> {int(e[-1]):,}): {int(counts[0]):,}")
    ax.legend(loc="lower left", fontsize=8)
    ax.set_xlabel("trace length (tokens)")
    ax.set_ylabel("traces")
    ax.set_title(title or f"{lengths.size:,} traces")
    fig.tight_layout()
    fig.savefig(path, format="png")
    return path
