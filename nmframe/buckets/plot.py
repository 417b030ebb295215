"""The trace-length histogram with the bucket edges marked (a PNG, no display needed)."""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nmframe.buckets.assign import assign_buckets, checked_edges, length_label
from nmframe.buckets.paper import PAPER_EDGES


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
    e = checked_edges(edges)
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
