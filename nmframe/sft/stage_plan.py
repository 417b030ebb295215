"""The stage plan: the bucket stages of the sequential schedule, each with its layout and padding.

Why one typed object: the stage list (``buckets.stages``), each stage's parallel layout
(``parallelism.*``) and what follows from them (per-sequence and per-sample padding) are read by
bucketize, pack, train_stage, the config checks and the cost model. The plan is built and
validated once from a composed config (:func:`nmframe.config.stage_plan.build_stage_plan`);
everything else looks stages up here, by name or by index.

Padding (see :mod:`nmframe.packing`): a packed sequence is padded to ``lcm(128, 2 * CP)``;
under Megatron with context parallelism every sample is also padded to ``2 * CP`` (the varlen
CP kernels need it), so the packer accounts for that padding.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Layout:
    """A stage's parallel layout and the sizes derived from it and the GPU count."""

    tp: int
    cp: int
    ep: int
    etp: int
    pp: int
    dp: int
    micro_batch_size: int
    global_batch_size: int
    grad_accum: int
    world: int

    def to_dict(self) -> dict:
        """Plain values (the trainers' ``layout`` argument and part of train_stage's cache key)."""
        return asdict(self)


@dataclass(frozen=True)
class Stage:
    """One bucket stage: traces up to ``max_len`` tokens, trained in ``layout``."""

    name: str
    index: int
    max_len: int
    layout: Layout
    pad_multiple: int        # packed sequence length multiple, lcm(128, 2 * CP)
    sample_multiple: int     # per-sample padding: 2 * CP under Megatron with CP > 1, else 1

    @property
    def cp(self) -> int:
        return self.layout.cp


@dataclass(frozen=True)
class StagePlan:
    """The stages in training order (strictly increasing ``max_len``), with the schedule's
    global batch (traces per optimizer step), epochs and trainer backend."""

    stages: tuple[Stage, ...]
    global_batch_size: int
    epochs: float
    backend: str

    def __len__(self) -> int:
        return len(self.stages)

    def __iter__(self) -> Iterator[Stage]:
        return iter(self.stages)

    def __getitem__(self, index: int) -> Stage:
        return self.stages[index]

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.stages]

    @property
    def edges(self) -> list[int]:
        """The stages' ``max_len``: the buckets' inclusive upper edges."""
        return [s.max_len for s in self.stages]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def by_name(self, name: str) -> Stage:
        for s in self.stages:
            if s.name == name:
                return s
        raise KeyError(f"no bucket stage {name!r} (stages: {', '.join(self.names)})")

    def previous(self, stage: Stage | str) -> Stage | None:
        """The stage trained just before ``stage`` (None for the first)."""
        s = self.by_name(stage) if isinstance(stage, str) else stage
        return self.stages[s.index - 1] if s.index > 0 else None

    def is_final(self, stage: Stage | str) -> bool:
        return (stage if isinstance(stage, str) else stage.name) == self.final.name


def pack_settings(plan: StagePlan, name: str, *, seed: int, tokenizer: str, template: str) -> dict:
    """Everything that decides a stage's packing, as plain values (pack's config slice, and what
    train_stage records): stage length, CP and padding, backend, global batch, epochs, shuffle
    seed, and the tokenizer and template the lengths were counted with."""
    s = plan.by_name(name)
    return {"stage": s.name, "index": s.index, "capacity": s.max_len, "cp": s.cp, "pad_multiple": s.pad_multiple,
            "sample_multiple": s.sample_multiple, "backend": plan.backend,
            "global_batch_size": plan.global_batch_size, "epochs": plan.epochs,
            "seed": int(seed), "tokenizer": str(tokenizer), "template": str(template)}
