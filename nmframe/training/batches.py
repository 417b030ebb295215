"""From a stage's schedule to the packed micro-batches each data-parallel rank runs.

A step is a list of bins (:mod:`nmframe.sft.stages`). Bins are spread over the DP ranks by
longest-processing-time (each bin, longest first, to the rank with the fewest tokens so far);
ranks with fewer bins get empty micro-batches (all padding, no loss) so every rank runs the same
number of forward/backward passes. One micro-batch is one packed sequence. The step's loss is
the sum of token losses over all ranks' bins divided by the step's total target tokens, so the
result does not depend on how bins are spread or packed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nmframe.packing import PackedBatch, packed_batch
from nmframe.sft.stages import Schedule
from nmframe.sft.store import SftData
from nmframe.training.base import StageData


@dataclass
class StepBatches:
    per_rank: list[list[PackedBatch]]   # [dp][micro-batch]
    target_tokens: int                  # over all ranks: the loss divisor
    real_tokens: int
    samples: int


def bin_batch(data: SftData, ids: np.ndarray, sd: StageData) -> PackedBatch:
    samples, masks = zip(*(data.sample(int(i)) for i in ids))
    return packed_batch(list(samples), list(masks), pad_multiple=sd.pad_multiple,
                        sample_multiple=sd.sample_multiple, pad_token_id=sd.pad_token_id, capacity=sd.capacity)


def empty_batch(sd: StageData) -> PackedBatch:
    """A micro-batch of padding only (no targets) for ranks with fewer bins."""
    return packed_batch([np.full(sd.pad_multiple, sd.pad_token_id)], [np.zeros(sd.pad_multiple, dtype=np.uint8)],
                        pad_multiple=sd.pad_multiple, pad_token_id=sd.pad_token_id)


def step_batches(data: SftData, schedule: Schedule, step: int, sd: StageData, dp: int = 1) -> StepBatches:
    batches = [bin_batch(data, ids, sd) for ids in schedule.step_bins(step)]
    order = sorted(range(len(batches)), key=lambda j: -batches[j].length)
    ranks: list[list[PackedBatch]] = [[] for _ in range(dp)]
    load = [0] * dp
    for j in order:
        r = min(range(dp), key=lambda k: (load[k], k))
        ranks[r].append(batches[j])
        load[r] += batches[j].length
    most = max(len(r) for r in ranks) if ranks else 0
    for r in ranks:
        while len(r) < most:
            r.append(empty_batch(sd))
    return StepBatches(per_rank=ranks, target_tokens=sum(b.num_loss_tokens for b in batches),
                       real_tokens=sum(int(b.seq_lens.sum()) for b in batches),
                       samples=sum(b.num_samples for b in batches))
