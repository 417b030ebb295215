"""Length buckets for the sequential long-context schedule (16K -> 32K -> 64K -> 128K).

Training in one 128K stage pays 128K-context parallelism for millions of short traces. The
recipe instead assigns every trace to the smallest bucket that holds it and trains the buckets in
order, each stage with its own packed length and parallelism (arXiv:2512.15489, Sec. 3).
One module per concern:

* :mod:`.assign`: the assignment (traces longer than the largest bucket are dropped and
  counted, never truncated) and the per-bucket x mode x TIR count report;
* :mod:`.final_mix`: the final stage's data mix (replayed medium/low traces);
* :mod:`.paper`: the paper's bucket edges and Tables 1 and 2;
* :mod:`.synthetic`: synthetic lengths and metadata from the paper's mix, for benchmarks and tests;
* :mod:`.plot`: the length histogram.
"""

from __future__ import annotations

from nmframe.buckets.assign import BucketReport, assign_bucket, assign_buckets, length_label, split_by_bucket
from nmframe.buckets.final_mix import DEFAULT_MIX_FRACTION, FinalStageMix, final_stage_mix
from nmframe.buckets.paper import PAPER_EDGES, PAPER_TABLE1, PAPER_TABLE2
from nmframe.buckets.plot import plot_length_histogram
from nmframe.buckets.synthetic import MIN_TRACE_LEN, paper_length_distribution, synthetic_traces

__all__ = [
    "PAPER_EDGES",
    "PAPER_TABLE2",
    "PAPER_TABLE1",
    "MIN_TRACE_LEN",
    "DEFAULT_MIX_FRACTION",
    "assign_bucket",
    "assign_buckets",
    "length_label",
    "split_by_bucket",
    "BucketReport",
    "FinalStageMix",
    "final_stage_mix",
    "paper_length_distribution",
    "synthetic_traces",
    "plot_length_histogram",
]
