"""Bin packing, packed sequence layout and block-diagonal masks."""

import time

import numpy as np
import pytest

from nmframe.buckets import PAPER_EDGES, assign_buckets, paper_length_distribution
from nmframe.packing import (
    IGNORE_INDEX,
    bin_loads,
    check_packing,
    default_pad_multiple,
    lower_bound,
    pack,
    packed_batch,
    utilisation,
)


def naive_bfd(lengths, capacity):
    """Item-by-item Best-Fit-Decreasing, the reference the batched packer must match."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    rems, bins = [], []
    for i in order:
        v = lengths[i]
        best = None
        for j, r in enumerate(rems):
            if r >= v and (best is None or r < rems[best]):
                best = j
        if best is None:
            rems.append(capacity - v)
            bins.append([i])
        else:
            rems[best] -= v
            bins[best].append(i)
    return bins


def _check(lengths, capacity, bins):
    check_packing(bins, lengths, capacity)
    assert sorted(i for b in bins for i in b) == list(range(len(lengths)))
    assert bin_loads(bins, lengths).max() <= capacity


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_itemwise_best_fit_decreasing(seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 101, size=300).tolist()
    bins = pack(x, 100)
    ref = naive_bfd(x, 100)
    _check(x, 100, bins)
    assert len(bins) == len(ref)
    # Ties between equally full bins may be broken differently; the loads must not differ.
    assert sorted(bin_loads(bins, x).tolist()) == sorted(bin_loads(ref, x).tolist())


def _distributions():
    rng = np.random.default_rng(42)
    cap = 16_384
    return {
        "uniform": (rng.integers(1, cap + 1, 30_000), cap),
        "log_uniform_16k": (np.exp(rng.uniform(np.log(512), np.log(cap), 40_000)).astype(np.int64), cap),
        "exponential": (np.clip(rng.exponential(3000, 40_000).astype(np.int64) + 1, 1, cap), cap),
        "small_items": (rng.integers(1, 200, 50_000), cap),
        "log_uniform_128k": (np.exp(rng.uniform(np.log(512), np.log(131_072), 20_000)).astype(np.int64), 131_072),
    }


@pytest.mark.parametrize("name", list(_distributions()))
def test_within_one_percent_of_lower_bound(name):
    x, cap = _distributions()[name]
    bins = pack(x, cap)
    _check(x, cap, bins)
    lb = lower_bound(x, cap)
    assert lb <= len(bins) <= 1.01 * lb, (name, len(bins), lb)


def test_paper_mix_per_bucket_within_bound():
    x = paper_length_distribution(150_000, seed=3)
    b = assign_buckets(x)
    for i, cap in enumerate(PAPER_EDGES):
        sel = x[b == i]
        bins = pack(sel, cap)
        _check(sel, cap, bins)
        lb = lower_bound(sel, cap)
        assert len(bins) <= 1.01 * lb
        if i == 0:
            assert utilisation(bins, sel, cap) >= 0.99
        else:
            # Every trace of the (C/2, C] buckets is longer than half the capacity: one per bin.
            assert len(bins) == lb == sel.size


def test_final_stage_gaps_are_filled_by_short_traces():
    rng = np.random.default_rng(0)
    long = rng.integers(65_537, 131_073, 400)
    short = np.exp(rng.uniform(np.log(512), np.log(16_384), 4_000)).astype(np.int64)
    x = np.concatenate([long, short])
    bins = pack(x, 131_072)
    _check(x, 131_072, bins)
    assert len(bins) == lower_bound(x, 131_072)  # the short traces fit in the long traces' bins


def test_over_long_raises_and_names_index_and_length():
    with pytest.raises(ValueError, match=r"length 200 at index 1 exceeds capacity 100"):
        pack([10, 200, 5, 300], 100)
    with pytest.raises(ValueError, match="index 2"):
        pack([3, 4, 0], 10)
    with pytest.raises(ValueError, match=r"index 0"):
        pack([99], 100, multiple=8)  # 99 pads to 104 > 100


def test_trivial_cases():
    assert pack([], 100) == []
    assert lower_bound([], 100) == 0
    assert utilisation([], [], 100) == 0.0
    # all exactly the capacity: one per bin, 100% utilisation
    bins = pack([100] * 7, 100)
    assert sorted(map(tuple, bins)) == [(i,) for i in range(7)]
    assert utilisation(bins, [100] * 7, 100) == 1.0
    # all tiny: 1000 ones into capacity 100 -> exactly 10 full bins
    bins = pack(np.ones(1000, dtype=np.int64), 100)
    assert len(bins) == 10 and all(len(b) == 100 for b in bins)
    # complementary pairs pack perfectly
    x = [60, 40, 70, 30, 55, 45]
    bins = pack(x, 100)
    assert sorted(sorted(b) for b in bins) == [[0, 1], [2, 3], [4, 5]]
    # two halves share a bin (the bound counts only lengths strictly above C/2)
    assert lower_bound([50, 50], 100) == 1 and len(pack([50, 50], 100)) == 1
    assert lower_bound([51, 49], 100) == 1 and len(pack([51, 49], 100)) == 1
    assert lower_bound([51, 50], 100) == 2 and len(pack([51, 50], 100)) == 2


def test_lower_bound_and_utilisation_values():
    assert lower_bound([30, 30, 30, 30], 100) == 2
    assert lower_bound([60, 60, 10], 100) == 2
    assert lower_bound([60, 61, 62], 100) == 3
    assert utilisation([[0, 1], [2]], [30, 50, 40], 100) == pytest.approx(120 / 200)
    # multiple= accounts lengths padded per sample
    assert lower_bound([5, 5, 5], 16, multiple=8) == 2
    bins = pack([5, 5, 5], 16, multiple=8)
    assert len(bins) == 2


def test_deterministic():
    x = np.random.default_rng(7).integers(1, 5000, 5000)
    assert pack(x, 8192) == pack(x.tolist(), 8192)


@pytest.mark.slow
def test_speed_paper_scale_7p5m_lengths():
    x = paper_length_distribution(7_500_000, seed=1)
    b = assign_buckets(x)
    t = time.perf_counter()
    n_bins = 0
    for i, cap in enumerate(PAPER_EDGES):
        sel = x[b == i]
        bins = pack(sel, cap)
        assert len(bins) <= 1.01 * lower_bound(sel, cap)
        n_bins += len(bins)
    dt = time.perf_counter() - t
    assert 2_600_000 < n_bins < 2_700_000
    assert dt < 20.0, f"packing 7.5M lengths took {dt:.1f} s"


# --- packed sequences ------------------------------------------------------------------------


def test_packed_batch_hand_built():
    pb = packed_batch([[11, 12, 13], [21, 22], [31, 32, 33, 34]], [[0, 1, 1], [1, 1], [0, 0, 1, 1]], pad_multiple=4)
    np.testing.assert_array_equal(pb.input_ids, [11, 12, 13, 21, 22, 31, 32, 33, 34, 0, 0, 0])
    np.testing.assert_array_equal(pb.position_ids, [0, 1, 2, 0, 1, 0, 1, 2, 3, 0, 1, 2])
    np.testing.assert_array_equal(pb.cu_seqlens, [0, 3, 5, 9, 12])
    assert pb.cu_seqlens.dtype == np.int32
    np.testing.assert_array_equal(pb.seq_lens, [3, 2, 4])
    m = IGNORE_INDEX
    np.testing.assert_array_equal(pb.labels, [m, 12, 13, m, 22, m, m, 33, 34, m, m, m])
    np.testing.assert_array_equal(pb.shift_labels, [12, 13, m, 22, m, m, 33, 34, m, m, m, m])
    assert pb.pad_len == 3 and pb.length == 12 and pb.num_samples == 3
    assert pb.num_loss_tokens == 5 and pb.max_seqlen == 4


def test_packed_batch_default_padding_follows_cp():
    assert default_pad_multiple(1) == 128
    assert default_pad_multiple(8) == 128
    assert default_pad_multiple(3) == 384
    assert default_pad_multiple(128) == 256
    pb = packed_batch([[1] * 100, [2] * 50], cp=3)
    assert pb.length == 384 and pb.length % 6 == 0
    np.testing.assert_array_equal(pb.cu_seqlens, [0, 100, 150, 384])
    assert (pb.labels[150:] == IGNORE_INDEX).all() and (pb.input_ids[150:] == 0).all()
    np.testing.assert_array_equal(pb.position_ids[150:153], [0, 1, 2])
    # exactly a multiple: no padding segment
    pb = packed_batch([[1] * 128])
    np.testing.assert_array_equal(pb.cu_seqlens, [0, 128])
    assert pb.pad_len == 0


def test_packed_batch_per_sample_padding_and_capacity():
    pb = packed_batch([[1, 2, 3], [4, 5, 6, 7, 8]], sample_multiple=4, pad_multiple=1, pad_token_id=9)
    np.testing.assert_array_equal(pb.input_ids, [1, 2, 3, 9, 4, 5, 6, 7, 8, 9, 9, 9])
    np.testing.assert_array_equal(pb.cu_seqlens, [0, 4, 12])
    np.testing.assert_array_equal(pb.position_ids, [0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7])
    m = IGNORE_INDEX
    np.testing.assert_array_equal(pb.shift_labels, [2, 3, m, m, 5, 6, 7, 8, m, m, m, m])
    with pytest.raises(ValueError, match="exceeds capacity 128"):
        packed_batch([[1] * 100, [1] * 29], capacity=128)
    with pytest.raises(ValueError, match="non-empty"):
        packed_batch([[1], []])


# --- masks -------------------------------------------------------------------------------------


def test_block_causal_mask_entries():
    import torch

    from nmframe.packing import block_causal_mask

    mask = block_causal_mask(np.array([0, 3, 5, 9], dtype=np.int32))
    assert mask.dtype == torch.bool and mask.shape == (9, 9)
    seg = [0, 0, 0, 1, 1, 2, 2, 2, 2]
    for q in range(9):
        for k in range(9):
            assert bool(mask[q, k]) == (seg[q] == seg[k] and k <= q), (q, k)
    # the first token of each sample sees only itself; samples never see each other
    assert mask[3].nonzero().flatten().tolist() == [3]
    assert mask[5].nonzero().flatten().tolist() == [5]
    assert not mask[5:, :5].any() and not mask[:3, 3:].any()
    # longer than cu_seqlens: trailing positions attend only to themselves
    m2 = block_causal_mask([0, 2], length=4)
    assert m2.tolist() == [[1, 0, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]


def test_hf_attention_mask_formats():
    import torch

    from nmframe.packing import hf_attention_mask

    sd = hf_attention_mask([0, 2, 3], "sdpa", torch.float32)
    assert sd.shape == (1, 1, 3, 3) and sd.dtype == torch.bool
    ea = hf_attention_mask([0, 2, 3], "eager", torch.float64)
    assert ea.dtype == torch.float64
    assert ea[0, 0, 1, 0] == 0 and ea[0, 0, 2, 0] == torch.finfo(torch.float64).min
    with pytest.raises(ValueError):
        hf_attention_mask([0, 3], "flash_attention_2", torch.float32)
