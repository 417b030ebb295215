"""Stage membership (smallest bucket, drops, final-stage mix) and packed global batches."""
import numpy as np

from nmframe.sft.stages import assign_stages, build_schedule, steps_for


def test_smallest_bucket_drop_and_final_mix():
    lengths = np.array([100, 600, 600, 1500, 1500, 3000] + [200] * 40)
    modes = np.array(["high", "high", "medium", "high", "high", "high"] + ["medium", "low"] * 20, dtype=object)
    tir = np.zeros(lengths.size, bool)
    sa = assign_stages(lengths, modes, tir, ["a", "b", "c"], [512, 1024, 2048], mix_fraction=1.0, seed=0)
    assert sa.dropped.tolist() == [5]                       # 3000 > 2048: dropped, never truncated
    assert sa.indices[1].tolist() == [1, 2]
    base = [3, 4]
    assert sa.mixed.size == 2 and sa.mixed_per_mode == {"medium": 1, "low": 1}  # round(1.0 * 2), split evenly
    assert set(sa.indices[2].tolist()) == set(base) | set(sa.mixed.tolist())
    assert set(sa.mixed.tolist()) <= set(sa.indices[0].tolist())  # replayed: still in their own stage
    assert sa.to_dict()["buckets"]["dropped_total"] == 1
    none = assign_stages(lengths, modes, tir, ["a", "b", "c"], [512, 1024, 2048], mix_fraction=0.0)
    assert none.mixed.size == 0 and none.indices[2].tolist() == base


def test_schedule_sees_every_trace_once_per_epoch():
    rng = np.random.default_rng(0)
    ids = np.arange(100, 137)
    lengths = rng.integers(10, 500, ids.size)
    s = build_schedule(ids, lengths, 512, global_batch=8, epochs=2.0, seed=1)
    assert s.num_steps == steps_for(37, 8, 2.0) == 10
    per_epoch = 5
    first = np.concatenate([np.concatenate(s.step_bins(k)) for k in range(per_epoch)])
    second = np.concatenate([np.concatenate(s.step_bins(k)) for k in range(per_epoch, 10)])
    assert sorted(first.tolist()) == ids.tolist() and sorted(second.tolist()) == ids.tolist()
    lut = dict(zip(ids.tolist(), lengths.tolist()))
    for k in range(s.num_steps):
        n = sum(b.size for b in s.step_bins(k))
        assert n == (8 if k % per_epoch < 4 else 5)
        assert all(sum(lut[int(i)] for i in b) <= 512 for b in s.step_bins(k))
    assert s.num_bins >= s.lower_bound
    frac = build_schedule(ids, lengths, 512, global_batch=8, epochs=0.5, seed=1)
    assert frac.num_steps == 3


def test_schedule_accounts_for_per_sample_cp_padding():
    s = build_schedule(np.arange(4), np.array([250, 250, 5, 5]), 512, global_batch=4, epochs=1, sample_multiple=16)
    # padded to 256, 256, 16, 16: the two long ones cannot share a bin with both short ones
    loads = [sum(-(-[250, 250, 5, 5][i] // 16) * 16 for i in b) for b in s.step_bins(0)]
    assert max(loads) <= 512 and s.num_bins == 2
