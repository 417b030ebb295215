"""The paper's length and mode tables (arXiv:2512.15489, Tables 1 and 2) and bucket edges.

Plain data: the four bucket edges of the sequential schedule (16K -> 32K -> 64K -> 128K, Sec. 3)
and the trace counts per bucket and per (TIR, mode). The synthetic traces
(:mod:`nmframe.buckets.synthetic`) and the cost model's paper comparison read them.
"""
from __future__ import annotations

import numpy as np

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

MODES = ("high", "medium", "low")


def paper_bucket_totals(edges_len: int) -> np.ndarray:
    tot = np.zeros(edges_len, dtype=np.float64)
    for row in PAPER_TABLE2.values():
        tot += np.asarray(row, dtype=np.float64)
    return tot
