"""Assigning traces to length buckets and counting them per bucket x mode x TIR.

Every trace goes to the smallest bucket whose (inclusive) upper edge holds it; traces longer
than the largest bucket are dropped and counted, never truncated.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from nmframe.buckets.paper import PAPER_EDGES


def length_label(n: int) -> str:
    """16384 -> '16K', 512 -> '512', 1536 -> '1.5K': token counts as people write them."""
    if n < 1024:
        return str(int(n))
    k = n / 1024
    return f"{k:g}K" if k != int(k) else f"{int(k)}K"


def checked_edges(edges: Sequence[int]) -> np.ndarray:
    """The edges as an int64 array; a ValueError unless non-empty and strictly increasing."""
    e = np.asarray(edges, dtype=np.int64)
    if e.ndim != 1 or e.size == 0 or (np.diff(e) <= 0).any():
        raise ValueError(f"edges must be a non-empty strictly increasing sequence, got {list(edges)}")
    return e


def assign_bucket(length: int, edges: Sequence[int] = PAPER_EDGES) -> int | None:
    """Index of the smallest bucket whose (inclusive) upper edge holds ``length``.

    Returns None when the trace is longer than the largest edge: such traces are dropped (and
    counted by :class:`BucketReport`), never truncated.
    """
    e = checked_edges(edges)
    i = int(np.searchsorted(e, int(length), side="left"))
    return None if i >= e.size else i


def assign_buckets(lengths: Sequence[int] | np.ndarray, edges: Sequence[int] = PAPER_EDGES) -> np.ndarray:
    """Vectorised :func:`assign_bucket`: int64 array of bucket indices, -1 for dropped traces."""
    e = checked_edges(edges)
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
