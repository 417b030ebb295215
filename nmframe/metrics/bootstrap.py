"""Seeded percentile bootstrap over problems.

Samples of one problem are correlated (same difficulty), so the unit of resampling is the
problem: each replicate draws as many problems as there are, with replacement, and
recomputes the mean of their per-problem values. The interval is the (alpha/2,
1 - alpha/2) percentile of the replicates. A fixed seed gives the same interval on every
run.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def bootstrap_ci(values: Sequence[float], *, alpha: float = 0.05, n_boot: int = 2000,
                 seed: int = 0) -> tuple[float, float] | None:
    """Percentile CI of the mean of ``values`` (one value per problem); None if empty."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return None
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    chunk = max(1, min(n_boot, 2_000_000 // max(x.size, 1)))  # bounded memory for many problems
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, x.size, size=(stop - start, x.size))
        means[start:stop] = x[idx].mean(axis=1)
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)
