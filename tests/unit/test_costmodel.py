"""Step-time model: presets, scaling properties, calibration and the paper comparison."""

from dataclasses import replace

import pytest

from nmframe.costmodel import (
    QWEN3_8B,
    QWEN3_30B_A3B,
    CostModel,
    Efficiency,
    Parallelism,
    Stage,
    calibrate,
    paper_comparison,
    paper_parallelism,
)


def stage(context=16_384, tokens=2048 * 8192, gpus=256, tp=4, cp=2, ep=4, steps=100.0, sum_sq=None, pp=1):
    return Stage(
        name=f"{context}", context=context, parallel=Parallelism(gpus=gpus, tp=tp, cp=cp, ep=ep, pp=pp),
        steps=steps, tokens_per_step=tokens, sum_sq_per_step=sum_sq,
    )


def test_presets_match_published_sizes():
    assert QWEN3_8B.params == pytest.approx(8.19e9, rel=0.005)
    assert QWEN3_30B_A3B.params == pytest.approx(30.53e9, rel=0.005)
    assert QWEN3_30B_A3B.active_params == pytest.approx(3.35e9, rel=0.01)
    assert (QWEN3_30B_A3B.q_dim, QWEN3_30B_A3B.kv_dim) == (4096, 512)
    # 8B: 2 * (36 * (attn 41.9M + mlp 151.0M) + LM head 622.3M) forward FLOPs per token
    per_layer = 4096 * 4096 * 2 + 2 * 4096 * 1024 + 3 * 4096 * 12288
    assert QWEN3_8B.linear_flops_per_token() == 2 * (36 * per_layer + 4096 * 151_936)


def test_attention_term_is_quadratic_in_sample_length():
    cm = CostModel(QWEN3_8B)
    a = cm.step_time(stage(tokens=8192, sum_sq=8192**2, tp=2, cp=2, ep=1)).attn_s
    b = cm.step_time(stage(tokens=16_384, sum_sq=16_384**2, tp=2, cp=2, ep=1)).attn_s
    assert b / a == pytest.approx(4.0)
    assert QWEN3_8B.attn_flops(1.0) == 36 * 2 * 4096


def test_step_time_monotone_in_context():
    cm = CostModel(QWEN3_30B_A3B)
    times = [cm.step_time(stage(context=c, cp=8, ep=8)).total_s for c in (4096, 8192, 16_384, 32_768, 65_536, 131_072)]
    assert all(t2 > t1 for t1, t2 in zip(times, times[1:]))
    # full-length samples: per-token attention grows linearly with context
    att = [cm.step_time(stage(context=c, cp=8, ep=8)).attn_s for c in (16_384, 32_768)]
    assert att[1] / att[0] == pytest.approx(2.0)


def test_more_gpus_is_faster():
    for model, tp, cp, ep in ((QWEN3_8B, 2, 2, 1), (QWEN3_30B_A3B, 4, 2, 4)):
        cm = CostModel(model)
        times = [cm.step_time(stage(gpus=g, tp=tp, cp=cp, ep=ep)).total_s for g in (32, 64, 128, 256, 512)]
        assert all(t2 < t1 for t1, t2 in zip(times, times[1:])), times


def test_communication_grows_with_tp_cp_ep():
    cm = CostModel(QWEN3_30B_A3B)
    base = cm.step_time(stage(tp=2, cp=2, ep=2)).comm_s
    assert cm.step_time(stage(tp=4, cp=2, ep=2)).comm_s["tp"] > base["tp"]
    assert cm.step_time(stage(tp=2, cp=4, ep=2)).comm_s["cp"] > base["cp"]
    assert cm.step_time(stage(tp=2, cp=2, ep=8)).comm_s["ep"] > base["ep"]
    # a CP group that leaves the node (TP4 x CP8 = 32 GPUs) pays network bandwidth
    intra = cm.step_time(stage(tp=4, cp=2, ep=4)).comm_s["cp"]
    inter = cm.step_time(stage(tp=4, cp=8, ep=4)).comm_s["cp"]
    assert inter / intra == pytest.approx(7 * 450 / 50)
    assert cm.step_time(stage(tp=1, cp=1, ep=1)).comm_s["tp"] == 0.0


def test_pipeline_bubble():
    cm = CostModel(QWEN3_8B)
    s1 = cm.step_time(stage(tp=2, cp=1, ep=1, pp=1, gpus=64, tokens=64 * 16_384))
    s4 = cm.step_time(stage(tp=2, cp=1, ep=1, pp=4, gpus=64, tokens=64 * 16_384))
    assert s1.bubble == 1.0
    # DP = 8 replicas, 64 sequences -> 8 microbatches each: bubble = 1 + 3/8
    assert s4.bubble == pytest.approx(1.375)


def test_parallelism_validation():
    p = Parallelism(gpus=256, tp=4, cp=8, ep=8)
    assert p.dp == 8 and p.expert_dp == 32
    with pytest.raises(ValueError):
        Parallelism(gpus=100, tp=8)
    with pytest.raises(ValueError):
        Parallelism(gpus=8, tp=0)


def test_calibration_recovers_known_constants():
    truth = Efficiency(linear=0.31, attention=0.22, comm=2.5)
    cm_true = CostModel(QWEN3_30B_A3B, efficiency=truth)
    stages = [
        stage(context=16_384, tokens=2048 * 4600, sum_sq=2048 * 3.9e7, cp=2, ep=4),
        stage(context=131_072, tokens=2048 * 15_000, sum_sq=2048 * 2.0e8, cp=8, ep=8),
        stage(context=32_768, tokens=2048 * 24_000, sum_sq=2048 * 6.0e8, cp=4, ep=8),
        stage(context=65_536, tokens=2048 * 47_000, sum_sq=2048 * 2.3e9, cp=8, ep=8, gpus=128),
    ]
    measured = [(s, cm_true.step_time(s).total_s) for s in stages]
    fitted = calibrate(measured, CostModel(QWEN3_30B_A3B))
    assert fitted.linear == pytest.approx(0.31, rel=1e-6)
    assert fitted.attention == pytest.approx(0.22, rel=1e-6)
    assert fitted.comm == pytest.approx(2.5, rel=1e-6)
    cm = CostModel(QWEN3_30B_A3B).calibrate(measured)
    for s, t in measured:
        assert cm.step_time(s).total_s == pytest.approx(t, rel=1e-9)
    # two measurements: one shared compute efficiency plus comm
    tied_truth = CostModel(QWEN3_30B_A3B, efficiency=Efficiency(0.2, 0.2, 3.0))
    two = [(s, tied_truth.step_time(s).total_s) for s in stages[:2]]
    e = calibrate(two, QWEN3_30B_A3B)
    assert (e.linear, e.attention, e.comm) == pytest.approx((0.2, 0.2, 3.0), rel=1e-6)
    with pytest.raises(ValueError):
        calibrate(two, QWEN3_30B_A3B, fit="all")
    with pytest.raises(ValueError, match="must be > 0 s"):
        calibrate([(stages[0], 100.0), (stages[1], 0.0)], QWEN3_30B_A3B, fit="tied")


def test_schedule_gpu_hours():
    cm = CostModel(QWEN3_8B)
    s1 = stage(tp=2, cp=2, ep=1, steps=300)
    s2 = replace(stage(context=131_072, tp=8, cp=8, ep=1, steps=50), name="128K")
    est = cm.schedule([s1, s2])
    want = sum(cm.step_time(s).total_s * s.steps for s in (s1, s2))
    assert est.seconds == pytest.approx(want)
    assert est.gpu_hours == pytest.approx(want * 256 / 3600)
    assert est.steps == 350
    assert "128K" in est.table()


def test_paper_comparison_reproduces_16k_step_times():
    cmp_ = paper_comparison(n=150_000, pack_sample=50_000)
    # fitted to the two measured step times
    assert cmp_.calibrated_16k == pytest.approx((18.0, 25.0), rel=1e-6)
    # the uncalibrated model already predicts the 16K -> 128K parallelism slowdown
    u16, u128 = cmp_.uncalibrated_16k
    assert 1.25 < u128 / u16 < 1.6
    assert 0.0 < cmp_.calibrated.linear < 1.0
    # varlen attention: same FLOPs in both schedules, the gain is parallelism only
    assert 1.0 < cmp_.speedup < 1.5
    # attention over whole packed sequences: the 128K baseline pays 128K^2 per sequence
    assert 2.0 < cmp_.speedup_per_bin < 4.0
    assert cmp_.full_gpu_hours > cmp_.bucketed_gpu_hours
    assert "paper 18.0 / 25.0" in cmp_.summary()
    assert paper_parallelism(QWEN3_30B_A3B, 16_384) == Parallelism(gpus=256, tp=4, cp=2, ep=4, etp=1)


def test_stage_from_lengths_uses_bin_composition():
    from nmframe.packing import pack

    lengths = [8_000, 8_000, 4_000, 4_000, 16_000]
    par = Parallelism(gpus=8, tp=2, cp=2)
    bins = pack(lengths, 16_384)
    assert len(bins) == 3
    s = Stage.from_lengths("s", lengths, 16_384, par, global_batch=5, epochs=2.0, bins=bins)
    assert s.steps == 2.0 and s.tokens_per_step == 40_000
    assert s.sum_sq_per_step == pytest.approx(2 * 8_000**2 + 2 * 4_000**2 + 16_000**2)
    assert s.utilisation == pytest.approx(40_000 / (3 * 16_384))
    packed = Stage.from_lengths("s", lengths, 16_384, par, global_batch=5, bins=bins, attention="per_bin")
    # bins [16000], [8000, 8000], [4000, 4000]: dense attention over each packed sequence
    assert packed.sum_sq_per_step == pytest.approx(2 * 16_000**2 + 8_000**2)
    full = Stage(name="f", context=16_384, parallel=par, steps=1, tokens_per_step=40_000)
    cm = CostModel(QWEN3_8B)
    assert cm.step_time(full).attn_s > cm.step_time(packed).attn_s > cm.step_time(s).attn_s
