"""n samples per problem of one (mode, tir) config, appended to a resumable shard.

The same loop as teacher generation (harmony prompt, Python tool, limits), so a student trained
on harmony traces is evaluated in the format it learnt. Records are keyed by (problem, mode,
tir, sample index): a killed evaluation resumes where it stopped, and the shard file is renamed
to its final name only when every sample has a record.
"""
from __future__ import annotations

from typing import Callable, Optional

from nmframe.generation.shard_runner import fill_shard, sampling_seed
from nmframe.generation.shards import ShardWriter
from nmframe.generation.tir import LoopSettings, SampleSpec


def sample_specs(problems: list[dict], mode: str, tir: bool, n: int, seed_base: int) -> list[SampleSpec]:
    return [SampleSpec(p, mode, tir, i, sampling_seed(p["id"], mode, tir, i, seed_base))
            for p in problems for i in range(n)]


def sample_problems(problems: list[dict], *, mode: str, tir: bool, n: int, backend, settings: LoopSettings,
                    writer: ShardWriter, batch_size: int, seed_base: int = 0, sandbox=None,
                    progress: Optional[Callable[[int, int], None]] = None) -> dict:
    specs = sample_specs(problems, mode, tir, n, seed_base)
    generated = fill_shard(specs, tir=tir, backend=backend, settings=settings, writer=writer, batch_size=batch_size,
                           sandbox=sandbox, progress=progress, stage="sampling")
    return {"samples": len(specs), "resumed": len(specs) - generated, "generated": generated}
