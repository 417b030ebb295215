"""The final stage's data mix: its own bucket plus replayed medium/low traces of earlier buckets."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nmframe.buckets.assign import assign_buckets
from nmframe.buckets.paper import PAPER_EDGES

#: Medium+low traces mixed into the final stage, as a fraction of the final bucket's trace
#: count. The paper only says "a small proportion". 0.1 is chosen because (a) at global batch
#: 2048 it puts ~190 medium/low traces into every step, so both modes are seen at every update of
#: the last stage, while (b) high mode still makes up >80% of the stage's traces and >99% of its
#: tokens (the mixed traces come from the short buckets, mean ~5K tokens against ~90K for a
#: final-bucket trace), and (c) those short traces mostly fill the ~28% of each 128K bin that a
#: single 64K-128K trace leaves empty, so the mix costs almost no extra packed sequences.
DEFAULT_MIX_FRACTION = 0.1


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
