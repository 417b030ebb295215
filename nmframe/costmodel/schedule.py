"""Predicted time of a bucket stage from the traces it trains and how they are packed.

Used by the long-bin fill (:mod:`nmframe.sft.fill`) to compare a schedule with and without
moving short traces into a long stage, and by :mod:`nmframe.costmodel.plan` for a config's
stages.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nmframe.packing import pack

from .model import CostModel, Parallelism, Stage


def padded_lengths(lengths: np.ndarray, multiple: int) -> np.ndarray:
    """Sample lengths rounded up to the per-sample padding ``multiple`` (2 * CP under Megatron CP)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    return lengths if multiple <= 1 else -(-lengths // multiple) * multiple


@dataclass(frozen=True)
class StageSpec:
    """What the fill and its cost need to know about one bucket stage."""

    name: str
    capacity: int
    parallel: Parallelism
    sample_multiple: int = 1          # per-sample padding (2 * CP under Megatron CP)
    pad_multiple: int = 128           # per packed sequence padding, lcm(128, 2 * CP)


@dataclass
class ScheduleCost:
    """Predicted seconds of a stage from the traces it trains and how they are packed.

    A stage of ``n`` traces runs ``epochs * n / global_batch`` steps of ``global_batch`` traces
    (``scale`` multiplies the trace count, for a subsample standing for a larger set). Attention
    is per sample (varlen), so only the GEMM work depends on the packing: with
    ``fixed_shape=False`` (the trainers here: packed sequences computed at their own length)
    each bin costs its load rounded up to ``pad_multiple``; with ``fixed_shape=True`` every bin
    costs the full capacity, so free space is paid-for compute.
    """

    model: CostModel
    specs: list[StageSpec]
    global_batch: int
    epochs: float
    scale: float = 1.0
    fixed_shape: bool = False
    pack_sample: int = 50_000
    seed: int = 0

    def utilisation(self, i: int, lengths: np.ndarray, loads: np.ndarray | None = None) -> float:
        sp = self.specs[i]
        x = np.asarray(lengths, dtype=np.int64)
        if loads is None:
            if x.size > self.pack_sample:
                x = np.random.default_rng(self.seed).choice(x, size=self.pack_sample, replace=False)
            bins = pack(x, sp.capacity, multiple=sp.sample_multiple)
            eff = padded_lengths(x, sp.sample_multiple)
            loads = np.fromiter((int(eff[b].sum()) for b in bins), dtype=np.int64, count=len(bins))
            real = float(x.sum())
        else:
            real = float(np.asarray(lengths, dtype=np.int64).sum())
        loads = np.asarray(loads, dtype=np.int64)
        if loads.size == 0:
            return 1.0
        computed = loads.size * sp.capacity if self.fixed_shape else float((-(-loads // sp.pad_multiple)
                                                                              * sp.pad_multiple).sum())
        return real / computed

    def stage(self, i: int, lengths: np.ndarray, loads: np.ndarray | None = None):
        sp = self.specs[i]
        x = np.asarray(lengths, dtype=np.float64)
        g = self.global_batch
        return Stage(name=sp.name, context=sp.capacity, parallel=sp.parallel,
                     steps=self.epochs * x.size * self.scale / g, tokens_per_step=float(x.mean() * g),
                     sum_sq_per_step=float((x ** 2).mean() * g), utilisation=self.utilisation(i, lengths, loads),
                     global_batch=g)

    def seconds(self, i: int, lengths: np.ndarray, loads: np.ndarray | None = None) -> float:
        if np.asarray(lengths).size == 0:
            return 0.0
        st = self.stage(i, lengths, loads)
        return self.model.step_time(st).total_s * st.steps

    def gpu_hours(self, i: int, seconds: float) -> float:
        return seconds * self.specs[i].parallel.gpus / 3600.0
