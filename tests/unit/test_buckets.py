"""Length buckets, the bucket report, the final-stage mix and the synthetic paper mix."""

import numpy as np
import pytest

from nmframe.buckets import (
    DEFAULT_MIX_FRACTION,
    PAPER_EDGES,
    BucketReport,
    assign_bucket,
    assign_buckets,
    final_stage_mix,
    paper_length_distribution,
    plot_length_histogram,
    split_by_bucket,
    synthetic_traces,
)


def test_assign_bucket_edges_inclusive():
    assert assign_bucket(1) == 0
    assert assign_bucket(16_384) == 0
    assert assign_bucket(16_385) == 1
    assert assign_bucket(32_768) == 1
    assert assign_bucket(65_537) == 3
    assert assign_bucket(131_072) == 3
    assert assign_bucket(131_073) is None
    assert assign_bucket(5, edges=[4, 8]) == 1
    with pytest.raises(ValueError):
        assign_bucket(5, edges=[8, 4])


def test_assign_buckets_vectorised_matches_scalar():
    x = np.array([1, 16_384, 16_385, 40_000, 131_072, 131_073, 500_000])
    b = assign_buckets(x)
    np.testing.assert_array_equal(b, [0, 0, 1, 2, 3, -1, -1])
    assert [assign_bucket(int(v)) for v in x] == [None if i < 0 else i for i in b.tolist()]
    parts = split_by_bucket(x)
    assert [p.tolist() for p in parts] == [[0, 1], [2], [3], [4]]


def test_bucket_report_counts_and_dropped():
    lengths = [100, 20_000, 20_000, 70_000, 200_000, 150_000, 1_000]
    modes = ["low", "high", "high", "high", "high", "medium", "low"]
    tir = [False, True, True, False, True, False, True]
    rep = BucketReport.from_arrays(lengths, modes, tir)
    assert rep.counts[(0, "low", False)] == 1
    assert rep.counts[(0, "low", True)] == 1
    assert rep.counts[(1, "high", True)] == 2
    assert rep.counts[(3, "high", False)] == 1
    assert rep.dropped == {("high", True): 1, ("medium", False): 1}
    assert rep.total_dropped == 2 and rep.dropped_tokens == 350_000
    assert rep.per_bucket() == [2, 2, 0, 1]
    assert rep.tokens == {0: 1_100, 1: 40_000, 2: 0, 3: 70_000}
    assert rep.total == 7
    d = rep.to_dict()
    assert d["per_bucket"] == [2, 2, 0, 1] and d["dropped_total"] == 2
    table = rep.format_table()
    assert "dropped" in table and "<=16K" in table and "<=128K" in table


def test_paper_length_distribution_matches_table2():
    x = paper_length_distribution(7_500, seed=0)
    assert x.dtype == np.int64 and x.size == 7_500
    assert np.bincount(assign_buckets(x), minlength=4).tolist() == [6_772, 489, 196, 43]
    assert x.min() >= 512 and x.max() <= 131_072
    y = paper_length_distribution(7_500, seed=0)
    np.testing.assert_array_equal(x, y)
    assert not np.array_equal(x, paper_length_distribution(7_500, seed=1))
    # log-uniform inside the first bucket: the median is near the geometric mean sqrt(512 * 16384)
    first = x[x <= 16_384]
    assert 2_400 < np.median(first) < 3_400


def test_synthetic_traces_mode_marginals():
    tr = synthetic_traces(60_000, seed=0)
    modes, tir, lengths = tr["modes"], tr["tir"], tr["lengths"]
    share = {m: float(np.mean(modes == m)) for m in ("high", "medium", "low")}
    # Table 1 totals: high 3096K, medium 2599K, low 1802K of 7497K
    assert share["high"] == pytest.approx(0.413, abs=0.01)
    assert share["medium"] == pytest.approx(0.347, abs=0.01)
    assert share["low"] == pytest.approx(0.240, abs=0.01)
    long = assign_buckets(lengths) == 3
    assert np.mean(modes[long] == "high") > 0.8
    assert 0.48 < tir.mean() < 0.56
    assert set(tr["source"].tolist()) == {"aops", "stackexchange"}


def test_final_stage_mix_deterministic_and_sized():
    tr = synthetic_traces(40_000, seed=2)
    lengths, modes = tr["lengths"], tr["modes"]
    mix = final_stage_mix(lengths, modes, seed=5)
    n_final = int(np.sum(assign_buckets(lengths) == 3))
    assert mix.base.size == n_final
    assert mix.mixed.size == round(DEFAULT_MIX_FRACTION * n_final)
    assert sum(mix.mixed_per_mode.values()) == mix.mixed.size
    assert abs(mix.mixed_per_mode["medium"] - mix.mixed_per_mode["low"]) <= 1
    assert set(modes[mix.mixed].tolist()) <= {"medium", "low"}
    assert (assign_buckets(lengths[mix.mixed]) < 3).all()
    assert mix.indices.size == mix.base.size + mix.mixed.size
    assert np.all(np.diff(mix.indices) > 0)  # sorted, no duplicates
    again = final_stage_mix(lengths, modes, seed=5)
    np.testing.assert_array_equal(mix.indices, again.indices)
    other = final_stage_mix(lengths, modes, seed=6)
    assert not np.array_equal(mix.mixed, other.mixed)
    none = final_stage_mix(lengths, modes, fraction=0.0)
    np.testing.assert_array_equal(none.indices, mix.base)


def test_final_stage_mix_capped_by_availability():
    lengths = [100_000] * 10 + [1_000, 2_000]
    modes = ["high"] * 10 + ["medium", "high"]
    mix = final_stage_mix(lengths, modes, fraction=1.0)
    assert mix.mixed.tolist() == [10]
    assert mix.mixed_per_mode == {"medium": 1, "low": 0}


def test_histogram_png(tmp_path):
    x = np.concatenate([paper_length_distribution(3_000, seed=0), [200_000]])
    out = plot_length_histogram(x, tmp_path / "sub" / "hist.png", title="lengths")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 5_000
    assert PAPER_EDGES[-1] == 131_072
