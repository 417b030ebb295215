"""Stage datasets of the sequential bucketed schedule, and each stage's packed global batches.

Stage membership (:func:`assign_stages`): every trace goes to the smallest stage whose
``max_len`` holds it (:func:`nmframe.buckets.assign_buckets`); traces longer than the largest
stage are dropped and counted, never truncated.

The final-stage mix (``buckets.final_mix_fraction`` = f, default 0.1, see
:data:`nmframe.buckets.DEFAULT_MIX_FRACTION` for why): the final stage trains on every trace of
its own bucket plus ``round(f * n_final)`` *additional* medium/low traces, where ``n_final`` is
the number of traces in the final bucket. They are drawn without replacement, seeded by
``buckets.seed``, from the medium/low traces of the earlier buckets, split evenly between
medium and low (capped by what exists). They are replayed: each is still trained in its own
earlier stage too, so a mixed trace is seen twice per epoch and nothing leaves an earlier stage.
f = 0 disables the mix; with a single stage there is nothing to mix.

Global batches (:func:`build_schedule`): ``trainer.global_batch_size`` counts *traces* per
optimizer step, as in the recipe (2048 traces; 7.5M traces x 2 epochs / 2048 = ~7,300 steps).
Each epoch is a seeded shuffle of the stage's traces cut into global batches; each global batch
is packed into bins of the stage's context length with :func:`nmframe.packing.pack`. A step is
then a list of bins (packed sequences), which the trainer spreads over data-parallel ranks and
micro-batches. The loss of a step is the sum of token losses over all its bins divided by its
target-token count, so packing does not change what a step computes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from nmframe.buckets import BucketReport, assign_buckets, final_stage_mix
from nmframe.packing import lower_bound, pack


@dataclass
class StageAssignment:
    """Trace indices per stage (final stage including the mix) and what was dropped."""

    names: list[str]
    edges: list[int]
    indices: list[np.ndarray]            # per stage, sorted trace indices
    mixed: np.ndarray                    # final-stage replayed medium/low trace indices
    mixed_per_mode: dict[str, int]
    dropped: np.ndarray                  # traces longer than the largest stage
    report: BucketReport

    def to_dict(self) -> dict:
        return {
            "stages": [{"name": n, "max_len": e, "traces": int(ix.size)}
                       for n, e, ix in zip(self.names, self.edges, self.indices)],
            "final_mix": {"traces": int(self.mixed.size), "per_mode": self.mixed_per_mode},
            "dropped": int(self.dropped.size),
            "buckets": self.report.to_dict(),
        }


def assign_stages(lengths: np.ndarray, modes: np.ndarray, tir: np.ndarray, names: list[str], edges: list[int],
                  *, mix_fraction: float, seed: int = 0) -> StageAssignment:
    lengths = np.asarray(lengths, dtype=np.int64)
    modes = np.asarray(modes, dtype=object)
    b = assign_buckets(lengths, edges)
    indices = [np.flatnonzero(b == i).astype(np.int64) for i in range(len(edges))]
    mixed = np.zeros(0, dtype=np.int64)
    per_mode: dict[str, int] = {}
    if len(edges) > 1 and mix_fraction > 0 and lengths.size:
        mix = final_stage_mix(lengths, modes, edges, fraction=mix_fraction, seed=seed)
        mixed, per_mode = mix.mixed.astype(np.int64), dict(mix.mixed_per_mode)
        indices[-1] = np.sort(np.concatenate((indices[-1], mixed)))
    report = BucketReport.from_arrays(lengths, modes.astype(str), np.asarray(tir, dtype=bool), edges)
    return StageAssignment(names=list(names), edges=[int(e) for e in edges], indices=indices, mixed=mixed,
                           mixed_per_mode=per_mode, dropped=np.flatnonzero(b < 0).astype(np.int64), report=report)


@dataclass
class Schedule:
    """Packed global batches of one stage.

    ``bins`` holds trace indices (into the SFT data) bin after bin; bin ``j`` is
    ``bins[bin_offsets[j]:bin_offsets[j + 1]]``; step ``s`` is bins
    ``step_offsets[s]:step_offsets[s + 1]``.
    """

    bins: np.ndarray
    bin_offsets: np.ndarray
    step_offsets: np.ndarray
    lower_bound: int = 0                 # sum over steps of each step's bin lower bound
    stats: dict = field(default_factory=dict)

    @property
    def num_steps(self) -> int:
        return int(self.step_offsets.size - 1)

    @property
    def num_bins(self) -> int:
        return int(self.bin_offsets.size - 1)

    def step_bins(self, step: int) -> list[np.ndarray]:
        a, b = int(self.step_offsets[step]), int(self.step_offsets[step + 1])
        return [self.bins[self.bin_offsets[j]:self.bin_offsets[j + 1]] for j in range(a, b)]

    def save(self, out_dir) -> None:
        np.save(out_dir / "bins.npy", self.bins)
        np.save(out_dir / "bin_offsets.npy", self.bin_offsets)
        np.save(out_dir / "step_offsets.npy", self.step_offsets)

    @classmethod
    def load(cls, path) -> "Schedule":
        return cls(bins=np.load(path / "bins.npy"), bin_offsets=np.load(path / "bin_offsets.npy"),
                   step_offsets=np.load(path / "step_offsets.npy"))


def steps_for(n_traces: int, global_batch: int, epochs: float) -> int:
    """Optimizer steps of a stage: ``ceil(epochs * n / global_batch)`` (the last batch may be short)."""
    if n_traces == 0:
        return 0
    return int(math.ceil(epochs * n_traces / global_batch - 1e-9))


def build_schedule(trace_ids: np.ndarray, lengths: np.ndarray, capacity: int, *, global_batch: int, epochs: float,
                   seed: int = 0, sample_multiple: int = 1) -> Schedule:
    """Shuffle per epoch, cut into global batches of traces, pack each into bins of ``capacity``.

    ``lengths[i]`` is the length of ``trace_ids[i]``. Epoch ``e`` uses the permutation of
    ``numpy.random.default_rng([seed, e])``; a fractional last epoch takes its first steps.
    """
    trace_ids = np.asarray(trace_ids, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    n = trace_ids.size
    total_steps = steps_for(n, global_batch, epochs)
    per_epoch = int(math.ceil(n / global_batch)) if n else 0
    bins_flat, bin_off, step_off = [], [0], [0]
    bound = 0
    step = 0
    epoch = 0
    while step < total_steps:
        perm = np.random.default_rng([seed, epoch]).permutation(n)
        for k in range(per_epoch):
            if step >= total_steps:
                break
            chunk = perm[k * global_batch:(k + 1) * global_batch]
            lens = lengths[chunk]
            for b in pack(lens, capacity, multiple=sample_multiple):
                ids = trace_ids[chunk[np.asarray(b, dtype=np.int64)]]
                bins_flat.append(ids)
                bin_off.append(bin_off[-1] + ids.size)
            step_off.append(len(bin_off) - 1)
            bound += lower_bound(lens, capacity, multiple=sample_multiple)
            step += 1
        epoch += 1
    bins = np.concatenate(bins_flat) if bins_flat else np.zeros(0, dtype=np.int64)
    return Schedule(bins=bins, bin_offsets=np.asarray(bin_off, dtype=np.int64),
                    step_offsets=np.asarray(step_off, dtype=np.int64), lower_bound=int(bound))
