"""Filling the free space of long-stage bins with short traces moved out of earlier stages.

Why: in a stage whose traces are all longer than half its context (32K, 64K, 128K with
doubling edges) every packed sequence holds one trace and has free space (about 28% of the
bins on the paper's length mix). Short traces from earlier stages fit there; moving them
shrinks the earlier stages. Whether that saves time depends on what a packed sequence costs:
the moved tokens are computed in the long stage's parallel layout instead of their own stage's,
so the move is taken only when the cost model (:mod:`nmframe.costmodel`) predicts a shorter
schedule. Enabled by ``sft.fill_long_bins`` (default off: the paper's schedule).

Semantics (:func:`plan_fill`):

* Targets are processed from the last stage down to the second. A target's *own* traces are
  its current members (its bucket, minus traces already moved into a later stage; for the final
  stage, plus the final-stage medium/low replay). Its *candidates* are the current members of
  every earlier stage, except the final-stage replay traces (they keep their documented place:
  their own stage and the final stage).
* Free space: the own traces are packed (:func:`nmframe.packing.pack`, with the target's
  per-sample CP padding); each of those bins becomes one *host item* of its packed load. Host
  items and candidates are then packed together with Best-Fit-Decreasing. A candidate that lands
  in a bin holding a host item moves into the target; candidates in bins without a host item
  stay where they were. So the target's bins never grow: at most one bin per host item, i.e. no
  more than packing its own traces alone. Each resulting bin is a *group* (own traces plus the
  moved traces riding in its free space).
* Decision: the predicted time of the whole schedule (:class:`nmframe.costmodel.schedule.ScheduleCost`) with the move
  (target with its groups, sources without the moved traces) against without it. The move is
  taken only if strictly faster; either way both predictions are recorded.
* Every kept trace is trained in exactly one stage per epoch, as without the fill; the only
  trace seen twice is the final-stage replay, which the fill never touches. A moved trace is
  trained later in the schedule (with the long traces of its new stage). A stage whose traces
  all move out trains no steps and passes its checkpoint on.

What to expect: with packed sequences computed at their own length (both trainers here) free
space in a bin costs nothing, so the move only changes the layout that computes the moved
tokens; with the paper's Qwen3-30B-A3B layouts the long stages cost more per token (wider
context parallelism across nodes) and the cost model keeps every trace where it is. The move
pays when the long layout is no dearer per token, or for a trainer that computes every packed
sequence at the full context (``ScheduleCost(fixed_shape=True)``); see bench/bench_training.py.

A filled stage is scheduled by :func:`build_group_schedule`: groups stay together, so the
fill survives the cut into global batches (a plain per-batch shuffle would split hosts from the
traces riding with them and open new bins).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from nmframe.costmodel.schedule import ScheduleCost, padded_lengths
from nmframe.packing import lower_bound, pack
from nmframe.sft.stages import Schedule

GROUPS_FILE = "stage_{i}_groups.npy"
GROUP_OFFSETS_FILE = "stage_{i}_group_offsets.npy"


@dataclass
class FillTarget:
    """The fill of one target stage: its groups and the traces moved into it."""

    groups: list[np.ndarray]          # trace indices per bin (own traces first)
    moved: np.ndarray                 # trace indices moved in (sorted)
    bins_before: int                  # bins of the own traces alone
    loads: np.ndarray                 # packed (padded) load of each group


def fill_target(lengths: np.ndarray, own: np.ndarray, candidates: np.ndarray, capacity: int,
                sample_multiple: int = 1) -> FillTarget:
    """Pack ``candidates`` into the free space of the bins of ``own`` (see module docstring)."""
    own = np.asarray(own, dtype=np.int64)
    candidates = np.asarray(candidates, dtype=np.int64)
    eff_own = padded_lengths(lengths[own], sample_multiple)
    own_bins = [np.asarray(b, dtype=np.int64) for b in pack(eff_own, capacity)]
    host_loads = np.fromiter((int(eff_own[b].sum()) for b in own_bins), dtype=np.int64, count=len(own_bins))
    eff_c = padded_lengths(lengths[candidates], sample_multiple)
    fits = eff_c <= capacity - (host_loads.min() if host_loads.size else capacity)
    cand = candidates[fits]
    items = np.concatenate((host_loads, eff_c[fits]))
    n_host = len(own_bins)
    groups, moved = [], []
    for b in pack(items, capacity) if items.size else []:
        b = np.asarray(b, dtype=np.int64)
        hosts = b[b < n_host]
        if hosts.size == 0:
            continue                  # only candidates: they stay in their own stage
        riders = cand[b[b >= n_host] - n_host]
        groups.append(np.concatenate([own[own_bins[h]] for h in hosts] + [riders]))
        moved.append(riders)
    moved_all = np.sort(np.concatenate(moved)) if moved else np.zeros(0, np.int64)
    loads = np.fromiter((int(padded_lengths(lengths[g], sample_multiple).sum()) for g in groups), dtype=np.int64,
                        count=len(groups))
    return FillTarget(groups=groups, moved=moved_all, bins_before=n_host, loads=loads)


@dataclass
class FillPlan:
    """Stage members after the fill, the groups of filled stages, and every decision."""

    indices: list[np.ndarray]                    # per stage, sorted (final stage with its replay)
    groups: list[list[np.ndarray] | None]        # per stage: groups if filled, else None
    decisions: list[dict] = field(default_factory=list)
    seconds_without: float = 0.0
    seconds_with: float = 0.0
    gpu_hours_without: float = 0.0
    gpu_hours_with: float = 0.0

    @property
    def moved(self) -> int:
        return sum(d["moved"] for d in self.decisions if d["taken"])

    def to_dict(self) -> dict:
        return {"enabled": True, "moved": self.moved,
                "predicted": {"seconds_without": self.seconds_without, "seconds_with": self.seconds_with,
                              "gpu_hours_without": self.gpu_hours_without, "gpu_hours_with": self.gpu_hours_with},
                "decisions": self.decisions}


def plan_fill(lengths: np.ndarray, indices: list[np.ndarray], mixed: np.ndarray, cost: ScheduleCost) -> FillPlan:
    """Decide, stage by stage from the last, which earlier traces move into a later stage's free space.

    ``indices`` are the stages' members without the fill (final stage including the replay
    ``mixed``). Returns the new members; stages whose move was not taken are unchanged.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    specs = cost.specs
    k = len(specs)
    if len(indices) != k:
        raise ValueError(f"{len(indices)} stage index arrays for {k} stages")
    members = [np.asarray(ix, dtype=np.int64) for ix in indices]
    replay = np.asarray(mixed, dtype=np.int64)
    groups: list[list[np.ndarray] | None] = [None] * k
    secs = [cost.seconds(i, lengths[members[i]]) for i in range(k)]
    base_secs = list(secs)
    decisions = []
    for j in range(k - 1, 0, -1):
        sp = specs[j]
        sources = [np.setdiff1d(members[i], replay, assume_unique=True) for i in range(j)]
        cands = np.concatenate(sources) if sources else np.zeros(0, np.int64)
        d = {"target": sp.name, "capacity": sp.capacity, "candidates": int(cands.size), "moved": 0,
             "moved_from": {}, "moved_tokens": 0, "taken": False}
        if members[j].size == 0 or cands.size == 0:
            d["reason"] = "empty target" if members[j].size == 0 else "no candidates"
            decisions.append(d)
            continue
        ft = fill_target(lengths, members[j], cands, sp.capacity, sp.sample_multiple)
        own_real = int(lengths[members[j]].sum())
        moved_real = int(lengths[ft.moved].sum())
        d.update(moved=int(ft.moved.size), moved_tokens=moved_real, bins_before=ft.bins_before,
                 bins_after=len(ft.groups),
                 utilisation_before=round(own_real / (ft.bins_before * sp.capacity), 6),
                 utilisation_after=round((own_real + moved_real) / (len(ft.groups) * sp.capacity), 6))
        if ft.moved.size == 0:
            d["reason"] = "nothing fits the free space"
            decisions.append(d)
            continue
        new = list(members)
        new[j] = np.sort(np.concatenate((members[j], ft.moved)))
        after = list(secs)
        after[j] = cost.seconds(j, lengths[new[j]], ft.loads)
        for i in range(j):
            gone = np.isin(members[i], ft.moved, assume_unique=True)
            if gone.any():
                d["moved_from"][specs[i].name] = int(gone.sum())
                new[i] = members[i][~gone]
                after[i] = cost.seconds(i, lengths[new[i]])  # sources are not filled yet (targets go down)
        d["seconds_without"] = sum(secs)
        d["seconds_with"] = sum(after)
        d["gpu_hours_without"] = sum(cost.gpu_hours(i, s) for i, s in enumerate(secs))
        d["gpu_hours_with"] = sum(cost.gpu_hours(i, s) for i, s in enumerate(after))
        if sum(after) < sum(secs):
            d["taken"], d["reason"] = True, "the cost model predicts a shorter schedule"
            members, secs = new, after
            groups[j] = ft.groups
        else:
            d["reason"] = "the cost model predicts no saving"
        decisions.append(d)
    return FillPlan(indices=members, groups=groups, decisions=decisions, seconds_without=sum(base_secs),
                    seconds_with=sum(secs),
                    gpu_hours_without=sum(cost.gpu_hours(i, s) for i, s in enumerate(base_secs)),
                    gpu_hours_with=sum(cost.gpu_hours(i, s) for i, s in enumerate(secs)))


def flatten_groups(groups: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Groups as (flat trace indices, offsets): group ``g`` is ``flat[off[g]:off[g + 1]]``."""
    sizes = np.fromiter((g.size for g in groups), dtype=np.int64, count=len(groups))
    off = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
    flat = np.concatenate(groups).astype(np.int64) if groups else np.zeros(0, np.int64)
    return flat, off


def build_group_schedule(flat: np.ndarray, offsets: np.ndarray, lengths: np.ndarray, capacity: int, *,
                         global_batch: int, epochs: float, seed: int = 0, sample_multiple: int = 1) -> Schedule:
    """The schedule of a filled stage: groups kept whole, shuffled per epoch.

    ``lengths[t]`` is the length of trace ``t`` (indexed by the values in ``flat``). Epoch ``e``
    orders the groups by ``numpy.random.default_rng([seed, e]).permutation``; a step takes
    groups until it holds at least ``global_batch`` traces (so a step holds ``global_batch``
    traces plus fewer than one group's count; the last step of an epoch holds the rest). The
    step's groups are packed as whole items (:func:`nmframe.packing.pack` on their padded loads),
    so a step never has more bins than groups. Whole epochs are run in full; a fractional last
    epoch runs its first ``ceil(fraction * steps)`` steps.
    """
    flat = np.asarray(flat, dtype=np.int64)
    offsets = np.asarray(offsets, dtype=np.int64)
    n_groups = offsets.size - 1
    sizes = np.diff(offsets)
    eff = padded_lengths(np.asarray(lengths, dtype=np.int64)[flat], sample_multiple)
    gl = np.add.reduceat(eff, offsets[:-1]) if n_groups else np.zeros(0, np.int64)
    if gl.size and gl.max() > capacity:
        raise ValueError(f"a group holds {int(gl.max())} tokens > capacity {capacity}")
    bins_flat, bin_off, step_off = [], [0], [0]
    bound = 0
    if n_groups == 0 or epochs <= 0:
        return Schedule(bins=np.zeros(0, np.int64), bin_offsets=np.zeros(1, np.int64),
                        step_offsets=np.zeros(1, np.int64))
    epoch = 0
    while epoch < epochs - 1e-9:
        perm = np.random.default_rng([seed, epoch]).permutation(n_groups)
        cuts, count = [], 0
        for pos, g in enumerate(perm):
            count += int(sizes[g])
            if count >= global_batch:
                cuts.append(pos + 1)
                count = 0
        if not cuts or cuts[-1] != n_groups:
            cuts.append(n_groups)
        frac = min(1.0, epochs - epoch)
        take = len(cuts) if frac >= 1.0 else math.ceil(frac * len(cuts) - 1e-9)
        start = 0
        for c in cuts[:take]:
            step_groups = perm[start:c]
            start = c
            for b in pack(gl[step_groups], capacity):
                ids = np.concatenate([flat[offsets[g]:offsets[g + 1]] for g in step_groups[np.asarray(b)]])
                bins_flat.append(ids)
                bin_off.append(bin_off[-1] + ids.size)
            step_off.append(len(bin_off) - 1)
            tr = np.concatenate([flat[offsets[g]:offsets[g + 1]] for g in step_groups])
            bound += lower_bound(np.asarray(lengths, dtype=np.int64)[tr], capacity, multiple=sample_multiple)
        epoch += 1
    return Schedule(bins=np.concatenate(bins_flat), bin_offsets=np.asarray(bin_off, dtype=np.int64),
                    step_offsets=np.asarray(step_off, dtype=np.int64), lower_bound=int(bound))


__all__ = [
    "GROUPS_FILE",
    "GROUP_OFFSETS_FILE",
    "FillPlan",
    "FillTarget",
    "build_group_schedule",
    "fill_target",
    "flatten_groups",
    "plan_fill",
]
