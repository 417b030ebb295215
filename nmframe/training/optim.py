"""The learning rate at every optimizer step, one definition for every trainer.

Why one module: the torch and megatron trainers must apply the same rate for the same
``trainer.*`` settings; each calls :meth:`LrPlan.at` with the global step (counted across the
bucketed stages) before its optimizer step.

The paper's recipe is a constant 2e-4 without warmup (arXiv:2512.15489, SFT training setup;
its LR sweep picked 2e-4), so ``constant`` is the default. ``cosine`` and ``linear`` decay from
``lr`` to ``min_lr`` over ``lr_decay_steps`` optimizer steps (warmup included, as Megatron's
``lr_decay_iters``) and stay at ``min_lr`` after; the decay span covers all stages, so it must be
given (the sum of the stages' steps for a decay over the whole schedule). Every schedule starts
with ``warmup_steps`` of linear warmup: step ``s`` < warmup gets ``lr * (s + 1) / warmup``.
"""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Optional

from nmframe.errors import ConfigError


class LrSchedule(str, enum.Enum):
    constant = "constant"   # the paper's recipe
    cosine = "cosine"
    linear = "linear"


ALLOWED = ", ".join(s.value for s in LrSchedule)


def _schedule(value) -> LrSchedule:
    try:
        return LrSchedule(getattr(value, "value", value))
    except ValueError:
        raise ConfigError("trainer.lr_schedule", str(value), "unknown LR schedule", allowed=ALLOWED) from None


@dataclass(frozen=True)
class LrPlan:
    """A validated LR schedule; :meth:`at` gives the rate of a (0-based) global optimizer step."""
    lr: float
    schedule: LrSchedule = LrSchedule.constant
    warmup_steps: int = 0
    min_lr: float = 0.0
    decay_steps: Optional[int] = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "schedule", _schedule(self.schedule))
        if not self.lr > 0:
            raise ConfigError("trainer.lr", self.lr, "must be > 0")
        if self.warmup_steps < 0:
            raise ConfigError("trainer.warmup_steps", self.warmup_steps, "must be >= 0")
        if self.schedule is LrSchedule.constant:
            return
        if not 0.0 <= self.min_lr <= self.lr:
            raise ConfigError("trainer.min_lr", self.min_lr, f"must be in [0, trainer.lr={self.lr}]")
        if self.decay_steps is None or self.decay_steps <= self.warmup_steps:
            raise ConfigError("trainer.lr_decay_steps", self.decay_steps,
                              f"lr_schedule={self.schedule.value} decays over this many optimizer steps; it must "
                              f"exceed trainer.warmup_steps={self.warmup_steps} (e.g. the sum of the stages' steps)")

    @classmethod
    def from_trainer(cls, tr) -> "LrPlan":
        """The plan of a ``trainer`` config section."""
        decay = tr.get("lr_decay_steps") if hasattr(tr, "get") else getattr(tr, "lr_decay_steps", None)
        min_lr = tr.get("min_lr", 0.0) if hasattr(tr, "get") else getattr(tr, "min_lr", 0.0)
        return cls(lr=float(tr.lr), schedule=_schedule(tr.lr_schedule), warmup_steps=int(tr.warmup_steps),
                   min_lr=float(min_lr or 0.0), decay_steps=None if decay is None else int(decay))

    def at(self, step: int) -> float:
        w = self.warmup_steps
        if step < w:
            return self.lr * (step + 1) / w
        if self.schedule is LrSchedule.constant:
            return self.lr
        progress = min(1.0, (step - w) / (self.decay_steps - w))
        if self.schedule is LrSchedule.cosine:
            factor = 0.5 * (1.0 + math.cos(math.pi * progress))
        else:
            factor = 1.0 - progress
        return self.min_lr + (self.lr - self.min_lr) * factor


def set_lr(param_groups, lr: float) -> None:
    """Apply ``lr`` to every parameter group of an optimizer (torch or Megatron)."""
    for g in param_groups:
        g["lr"] = lr
