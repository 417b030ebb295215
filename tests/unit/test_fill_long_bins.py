"""Filling long-stage bins with short traces: membership invariant, bins, decisions, schedule."""
import itertools

import numpy as np

from nmframe.costmodel import QWEN3_8B, CostModel, Hardware, Parallelism, ScheduleCost, StageSpec
from nmframe.sft.fill import (
    build_group_schedule,
    fill_target,
    flatten_groups,
    plan_fill,
)
from nmframe.sft.stages import assign_stages, build_schedule

EDGES = [512, 1024, 2048]
NAMES = ["s512", "s1k", "s2k"]


def _traces(seed=0):
    rng = np.random.default_rng(seed)
    lengths = np.concatenate([rng.integers(20, 513, 600), rng.integers(513, 1025, 120),
                              rng.integers(1025, 2049, 40), [3000, 4000]])
    modes = rng.choice(np.array(["high", "medium", "low"], dtype=object), lengths.size)
    return lengths.astype(np.int64), modes, np.zeros(lengths.size, bool)


def _specs(pars):
    return [StageSpec(n, c, p, sample_multiple=1, pad_multiple=128) for n, c, p in zip(NAMES, EDGES, pars)]


def _cost(pars, fixed_shape=False):
    return ScheduleCost(CostModel(QWEN3_8B), _specs(pars), global_batch=64, epochs=2.0, fixed_shape=fixed_shape)


SAME = [Parallelism(gpus=8, tp=2, cp=1)] * 3


def test_fill_keeps_every_trace_in_exactly_one_stage_and_never_adds_bins():
    lengths, modes, tir = _traces()
    sa = assign_stages(lengths, modes, tir, NAMES, EDGES, mix_fraction=0.5, seed=0)
    assert sa.mixed.size == 20 and sa.dropped.tolist() == [760, 761]
    plan = plan_fill(lengths, sa.indices, sa.mixed, _cost(SAME, fixed_shape=True))
    assert [d["target"] for d in plan.decisions] == ["s2k", "s1k"]
    assert all(d["taken"] for d in plan.decisions) and plan.moved > 0
    assert plan.gpu_hours_with < plan.gpu_hours_without

    kept = set(range(lengths.size)) - set(sa.dropped.tolist())
    replay = set(sa.mixed.tolist())
    sets = [set(ix.tolist()) for ix in plan.indices]
    assert sum(len(s) for s in sets) == len(kept) + len(replay)       # seen once, the replay twice
    assert set.union(*sets) == kept
    assert sets[0] & sets[1] == set() and sets[1] & sets[2] <= replay and sets[0] & sets[2] <= replay
    assert replay <= sets[2] and all(len([s for s in sets if t in s]) == 2 for t in replay)

    d2k, d1k = plan.decisions
    # the short stage shrinks by exactly the traces moved out of it
    out0 = d2k["moved_from"].get("s512", 0) + d1k["moved_from"].get("s512", 0)
    assert plan.indices[0].size == sa.indices[0].size - out0
    assert set(sa.indices[0].tolist()) - sets[0] == (sets[1] | sets[2]) - set(sa.indices[1].tolist()) \
        - set(sa.indices[2].tolist())
    assert plan.indices[1].size == sa.indices[1].size - d2k["moved_from"].get("s1k", 0) + d1k["moved"]
    for d in plan.decisions:
        assert d["bins_after"] <= d["bins_before"]
        assert d["utilisation_after"] > d["utilisation_before"]
    # the groups of a filled stage are its members, each within the capacity
    for i in (1, 2):
        flat, off = flatten_groups(plan.groups[i])
        assert sorted(flat.tolist()) == plan.indices[i].tolist()
        assert max(int(lengths[flat[a:b]].sum()) for a, b in itertools.pairwise(off)) <= EDGES[i]


def test_fill_target_uses_only_free_space():
    lengths = np.array([700, 600, 900, 100, 300, 400, 50, 500], dtype=np.int64)
    ft = fill_target(lengths, np.array([0, 1, 2]), np.array([3, 4, 5, 6, 7]), 1024)
    assert ft.bins_before == 3 and len(ft.groups) == 3              # one host per bin, none added
    # free space 124, 324, 424; best fit, longest first: 400 -> 424, 300 -> 324, 100 -> 124; 24 left in
    # each, so 50 and 500 stay in their own stage
    assert ft.moved.tolist() == [3, 4, 5]
    assert sorted(ft.loads.tolist()) == [1000, 1000, 1000]


def test_no_move_when_the_long_stage_is_much_more_expensive_per_token():
    lengths, modes, tir = _traces(1)
    sa = assign_stages(lengths, modes, tir, NAMES, EDGES, mix_fraction=0.0)
    # CP8 x TP8 spans 8 nodes: on a slow inter-node link every token costs far more there
    cheap, dear = Parallelism(gpus=64, tp=8, cp=1), Parallelism(gpus=64, tp=8, cp=8)
    model = CostModel(QWEN3_8B, hardware=Hardware(network_bw=5e8))

    def cost(pars):
        return ScheduleCost(model, _specs(pars), global_batch=64, epochs=2.0)

    plan = plan_fill(lengths, sa.indices, sa.mixed, cost([cheap, dear, dear]))
    assert all(not d["taken"] for d in plan.decisions)
    assert all(d["moved"] > 0 and d["seconds_with"] > d["seconds_without"] for d in plan.decisions)
    assert plan.decisions[1]["reason"] == "the cost model predicts no saving"
    assert [ix.tolist() for ix in plan.indices] == [ix.tolist() for ix in sa.indices]
    assert plan.groups == [None, None, None] and plan.seconds_with == plan.seconds_without

    # the other way round (the short stages' layout is the expensive one): the moves are taken
    moved = plan_fill(lengths, sa.indices, sa.mixed, cost([dear, cheap, cheap]))
    assert all(d["taken"] for d in moved.decisions)
    assert all(d["seconds_with"] < d["seconds_without"] for d in moved.decisions)
    assert moved.seconds_with < moved.seconds_without
    assert moved.indices[0].size == sa.indices[0].size - sum(d["moved_from"].get("s512", 0) for d in moved.decisions)


def test_group_schedule_keeps_groups_whole_and_sees_each_trace_once_per_epoch():
    lengths, modes, tir = _traces(2)
    sa = assign_stages(lengths, modes, tir, NAMES, EDGES, mix_fraction=0.0)
    plan = plan_fill(lengths, sa.indices, sa.mixed, _cost(SAME, fixed_shape=True))
    flat, off = flatten_groups(plan.groups[2])
    s = build_group_schedule(flat, off, lengths, 2048, global_batch=8, epochs=2.0, seed=3)
    group_of = {int(t): g for g in range(off.size - 1) for t in flat[off[g]:off[g + 1]]}
    seen = []
    for k in range(s.num_steps):
        bins = s.step_bins(k)
        for b in bins:
            assert int(lengths[b].sum()) <= 2048
            gs = {group_of[int(t)] for t in b}
            assert sum(off[g + 1] - off[g] for g in gs) == b.size      # whole groups only
        seen.extend(int(t) for b in bins for t in b)
    assert len(seen) == 2 * flat.size and sorted(seen) == sorted(flat.tolist() * 2)
    steps_e0 = s.num_steps // 2
    first = sorted(int(t) for k in range(steps_e0) for b in s.step_bins(k) for t in b)
    assert first == sorted(flat.tolist())
    counts = [sum(b.size for b in s.step_bins(k)) for k in range(steps_e0)]
    assert all(c >= 8 for c in counts[:-1])
    # the filled stage packs into no more bins than its own traces alone
    own = sa.indices[2]
    plain = build_schedule(own, lengths[own], 2048, global_batch=8, epochs=2.0, seed=3)
    assert s.num_bins <= plain.num_bins == 2 * own.size              # every own trace > 1024: one per bin
    assert s.num_bins / (off.size - 1) <= 2
    half = build_group_schedule(flat, off, lengths, 2048, global_batch=8, epochs=0.5, seed=3)
    assert half.num_steps == -(-steps_e0 // 2) and half.step_bins(0)[0].tolist() == s.step_bins(0)[0].tolist()


def test_bucketize_and_pack_keys_name_the_fill():
    from nmframe.config import compose
    from nmframe.config.stage_plan import build_stage_plan
    from nmframe.costmodel import model_shape, schedule_cost
    from nmframe.steps.bucketize import Bucketize
    from nmframe.steps.pack import Pack

    off = compose(["model=qwen3_30b_a3b", "buckets=paper", "trainer=megatron"])
    on = compose(["model=qwen3_30b_a3b", "buckets=paper", "trainer=megatron", "sft.fill_long_bins=true"])
    s_off, s_on = Bucketize().config_slice(off, {}), Bucketize().config_slice(on, {})
    assert s_off["sft.fill_long_bins"] is False and "fill" not in s_off
    assert s_on["fill"]["stages"]["ctx32k"]["layout"]["cp"] == 4
    assert s_on["fill"]["stages"]["ctx32k"]["sample_multiple"] == 8 and s_on["fill"]["global_batch_size"] == 2048
    assert Pack().config_slice(on, {"stage": "ctx32k"})["fill_long_bins"] is True
    assert Pack().config_slice(off, {"stage": "ctx32k"})["fill_long_bins"] is False

    # the paper's layouts: the long stages cost more per token, so nothing moves (varlen packing)
    from nmframe.buckets import PAPER_EDGES, assign_buckets, paper_length_distribution

    x = paper_length_distribution(20_000, seed=0)
    b = assign_buckets(x, PAPER_EDGES)
    plan = plan_fill(x, [np.flatnonzero(b == i) for i in range(4)], np.zeros(0, np.int64),
                     schedule_cost(build_stage_plan(on), model_shape(on.model), seed=int(on.buckets.seed)))
    assert [d["target"] for d in plan.decisions] == ["ctx128k", "ctx64k", "ctx32k"]
    assert all(d["moved"] > 0 and not d["taken"] for d in plan.decisions)
    assert plan.gpu_hours_with == plan.gpu_hours_without
