"""The trainer interface every backend implements, and what a stage hands it.

A training stage of the bucketed schedule is: start from the previous stage's checkpoint (or
the base model), run the stage's packed global batches, save a checkpoint the next stage loads.
Backends (``trainer.backend``): ``torch`` (transformers model on CPU, the tiny student) and
``megatron`` (Megatron-Core with Transformer Engine on GPUs, launched with torchrun).
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from omegaconf import DictConfig


@dataclass
class StageData:
    """One stage's inputs: the SFT arrays, the packed schedule and how to lay out a bin.

    Attributes:
        name, index: the bucket stage (``buckets.stages[index].name``).
        sft_dir: prepare_sft artifact (see :mod:`nmframe.sft.store`).
        pack_dir: pack artifact (``bins.npy``, ``bin_offsets.npy``, ``step_offsets.npy``).
        capacity: the stage's packed sequence length (``max_len``).
        pad_multiple: packed lengths are rounded up to this (``lcm(128, 2 * CP)``).
        sample_multiple: each sample is padded to this (``2 * CP`` when CP > 1, else 1).
        pad_token_id: id used for padding.
        max_steps: cap on the stage's optimizer steps (None: the whole schedule).
        scratch_dir: stable directory for mid-stage checkpoints (resume after a kill).
        checkpoint_every: mid-stage checkpoint interval in steps (0: never).
        on_step: called after every optimizer step with ``{"step", "loss", "tokens", ...}``.
    """

    name: str
    index: int
    sft_dir: Path
    pack_dir: Path
    capacity: int
    pad_multiple: int
    sample_multiple: int = 1
    pad_token_id: int = 0
    max_steps: Optional[int] = None
    scratch_dir: Optional[Path] = None
    checkpoint_every: int = 0
    on_step: Optional[Callable[[dict], None]] = None


@dataclass
class StageResult:
    """What a stage did: per-step losses and seconds, target tokens seen, steps run."""

    losses: list[float] = field(default_factory=list)
    step_times: list[float] = field(default_factory=list)
    tokens: int = 0          # target (loss) tokens over the stage
    steps: int = 0
    resumed_from_step: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"losses": self.losses, "step_times": self.step_times, "tokens": self.tokens, "steps": self.steps,
                "resumed_from_step": self.resumed_from_step, **self.extra}


class Trainer(abc.ABC):
    """Train one stage from ``init_checkpoint`` (None: the base model) into ``out_checkpoint``."""

    backend: str = ""

    @abc.abstractmethod
    def train_stage(self, stage_data: StageData, init_checkpoint: Optional[Path], out_checkpoint: Path,
                    layout: dict, cfg: DictConfig) -> StageResult:
        """``layout`` is :func:`nmframe.training.layout.check_parallel_layout` of the stage."""
