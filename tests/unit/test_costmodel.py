"""Step-time model: presets, scaling properties, calibration and the paper comparison."""

import re
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


# -- Table 7 (arXiv:2512.15489), constants files, calibration from a run ------------------------
SMALL = {"n": 750_000, "pack_sample": 30_000}


@pytest.fixture(scope="module")
def table7():
    from nmframe.costmodel.paper import table7_fit

    return table7_fit(**SMALL)


def test_fit_reproduces_table7_stage_costs_and_speedup(table7):
    r = table7
    assert r.stages == ("16K", "32K", "64K", "128K") and r.fit.points == 5 and r.fit.mode == "all"
    assert r.worst_stage_error <= 0.15, r.stage_errors
    assert abs(r.full_error) <= 0.15
    assert 1.9 <= r.speedup <= 2.5
    # every constant is physical: efficiencies in (0, 1], comm and per-document cost not negative
    e = r.fit.efficiency
    assert 0 < e.linear <= 1 and 0 < e.attention <= 1 and e.comm >= 0 and e.doc_overhead >= 0
    # residuals are the stage errors, in order, then the full run
    assert r.fit.residuals == pytest.approx([*r.stage_errors, r.full_error], abs=1e-9)


def test_leave_one_out_predicts_the_full_run_without_fitting_it(table7):
    from nmframe.costmodel import CostModel, QWEN3_30B_A3B
    from nmframe.costmodel.paper import PAPER_TABLE7_FULL, table7_stages

    r = table7
    assert r.loo.points == 4 and len(r.loo.residuals) == 4
    _, full = table7_stages(**SMALL)
    assert full.parallel == Parallelism(gpus=256, tp=8, cp=8, ep=8)   # the released recipe's 128K layout
    want = CostModel(QWEN3_30B_A3B, efficiency=r.loo.efficiency).step_time(full).total_s * full.steps
    assert r.loo_full_s == pytest.approx(want)
    assert r.loo_full_error == pytest.approx(want / PAPER_TABLE7_FULL - 1)
    assert r.loo.efficiency != r.fit.efficiency


def test_bench_prints_the_fit_and_leave_one_out_figure(table7):
    import subprocess
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))
    from bench_costmodel import report

    out = subprocess.run([sys.executable, "bench/bench_costmodel.py", "--n", str(SMALL["n"]), "--pack-sample",
                          str(SMALL["pack_sample"])], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parents[2]).stdout.splitlines()
    want = report(table7)
    assert out[-1] == want[-1]
    assert re.fullmatch(r"costmodel: speedup \d\.\d\d \(paper 2\.2\), worst stage error \d+\.\d%, "
                        r"full-run error \d+\.\d%", out[-1])
    loo = next(line for line in out if line.startswith("leave-one-out"))
    assert loo in want and f"({table7.loo_full_error:+.1%})" in loo


def test_shipped_constants_are_calibrated_to_table7():
    from nmframe.costmodel import load_constants
    from nmframe.costmodel.paper import PAPER_TABLE7, PAPER_TABLE7_FULL, table7_stages

    c = load_constants()
    assert c.name == "paper_h100" and c.fit["points"] == 5 and c.hardware.peak_flops == 989e12
    cm = CostModel(QWEN3_30B_A3B, hardware=c.hardware, efficiency=c.efficiency)
    stages, full = table7_stages(**SMALL)
    for s in stages:
        assert cm.step_time(s).total_s * s.steps == pytest.approx(PAPER_TABLE7[s.name], rel=0.15)
    bucketed = sum(cm.step_time(s).total_s * s.steps for s in stages)
    full_s = cm.step_time(full).total_s * full.steps
    assert full_s == pytest.approx(PAPER_TABLE7_FULL, rel=0.15)
    assert full_s / bucketed == pytest.approx(2.2, abs=0.3)


def test_bounded_fit_holds_an_efficiency_at_one():
    from nmframe.costmodel import fit_efficiency

    # attention three times faster than peak cannot be fitted: it is held at 1 and reported
    truth = CostModel(QWEN3_30B_A3B, efficiency=Efficiency(linear=0.2, attention=3.0, comm=2.0, doc_overhead=0.01))
    stages = [stage(context=c, tokens=2048 * t, sum_sq=2048 * q, cp=cp, ep=ep, tp=tp)
              for c, t, q, tp, cp, ep in ((16_384, 4600, 3.9e7, 4, 2, 4), (32_768, 24_000, 6.0e8, 4, 4, 8),
                                         (65_536, 47_000, 2.3e9, 4, 8, 8), (131_072, 15_000, 2.0e8, 8, 8, 8),
                                         (131_072, 90_000, 8.0e9, 4, 8, 8))]
    r = fit_efficiency([(s, truth.step_time(s).total_s) for s in stages], QWEN3_30B_A3B)
    assert r.efficiency.attention == 1.0 and "attention" in r.at_bound
    assert r.worst > 0  # the clamped fit no longer reproduces the data exactly
    exact = CostModel(QWEN3_30B_A3B, efficiency=Efficiency(0.2, 0.7, 2.0, 0.01))
    r2 = fit_efficiency([(s, exact.step_time(s).total_s) for s in stages], QWEN3_30B_A3B)
    assert (r2.efficiency.linear, r2.efficiency.attention, r2.efficiency.comm, r2.efficiency.doc_overhead) == \
        pytest.approx((0.2, 0.7, 2.0, 0.01), rel=1e-6)
    assert r2.at_bound == () and r2.worst < 1e-9


def test_constants_file_errors_name_the_file_and_key(tmp_path):
    from nmframe.costmodel import load_constants
    from nmframe.errors import ConfigError

    with pytest.raises(ConfigError, match="no such constants file"):
        load_constants(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("efficiency: {linear: 0.3, attention: 0.5, comm: 1.0, typo: 2}\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: efficiency\.typo"):
        load_constants(bad)
    bad.write_text("efficiency: {linear: 1.5}\n")
    with pytest.raises(ConfigError, match=r"efficiency\.linear=1\.5: must be in \(0, 1\]"):
        load_constants(bad)


# -- nmframe calibrate -------------------------------------------------------------------------
TRUTH = Efficiency(linear=0.25, attention=0.6, comm=3.0, doc_overhead=0.02)


def _synthetic_run(tmp_path, steps: str | None):
    """A planned run (paper buckets, Qwen3-30B-A3B) whose train_stage tasks finished with step
    times generated from TRUTH (first step slower: warm-up). ``steps=None`` keeps the
    experiment's pipeline."""
    import json

    from nmframe.config import compose_points
    from nmframe.config.stage_plan import build_stage_plan
    from nmframe.costmodel.plan import plan_stage
    from nmframe.engine.orchestrate import make_plan, write_run

    ov = ["experiment=paper/table5_bucketed_vs_full", f"paths.outputs={tmp_path}"]
    if steps:
        ov.append(f"pipeline.steps={steps}")
    plan = make_plan(compose_points(ov, multirun=False))
    rd = write_run(plan, ["test"])
    cfg = plan.points[0][1]
    truth = CostModel(QWEN3_30B_A3B, efficiency=TRUTH)
    want = {}
    for e in plan.entries:
        if e.task.step != "train_stage":
            continue
        name = e.task.params["stage"]
        t = truth.step_time(plan_stage(build_stage_plan(cfg), name)).total_s
        want[name] = t
        art = tmp_path / "artifacts" / "train_stage" / e.task.key
        art.mkdir(parents=True)
        (art / "losses.json").write_text(json.dumps({"losses": [1.0] * 4, "step_times": [5 * t, t, t, t],
                                                     "tokens": 1, "steps": 4}))
    return rd, want


@pytest.mark.slow
def test_calibrate_recovers_known_constants_from_a_run(tmp_path, capsys):
    from nmframe.cli import main
    from nmframe.config import compose
    from nmframe.config.stage_plan import build_stage_plan
    from nmframe.costmodel import config_constants, estimate_stage, load_constants, model_shape

    rd, want = _synthetic_run(tmp_path, None)
    assert sorted(want) == ["ctx128k", "ctx16k", "ctx32k", "ctx64k"]
    out = tmp_path / "profile.yaml"
    assert main(["calibrate", str(rd.path), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "fitted 4 constants (fit=all) to 4 measured stage step times" in text
    assert "exact fit" in text and f"wrote {out}" in text
    prof = load_constants(out)
    e = prof.efficiency
    assert (e.linear, e.attention, e.comm, e.doc_overhead) == pytest.approx(
        (TRUTH.linear, TRUTH.attention, TRUTH.comm, TRUTH.doc_overhead), rel=1e-6)
    assert prof.fit["points"] == 4 and prof.fit["worst"] < 1e-6
    # the planner uses the profile when costmodel.profile points at it
    cfg = compose(["experiment=paper/table5_bucketed_vs_full", f"costmodel.profile={out}"])
    assert config_constants(cfg).efficiency == e
    est = estimate_stage(build_stage_plan(cfg), model_shape(cfg.model), "ctx32k", constants=config_constants(cfg))
    assert est["step_time_s"] == pytest.approx(want["ctx32k"], rel=1e-3)
    # three points: three constants, the per-document cost kept from the base constants
    assert main(["calibrate", str(rd.path), "--out", str(out), "--fit", "three"]) == 0
    assert "fitted 3 constants (fit=three)" in capsys.readouterr().out


def test_calibrate_says_when_a_run_has_no_train_stage_step_times(tmp_path, capsys):
    from nmframe.cli import main

    rd, want = _synthetic_run(tmp_path, "[ingest]")
    assert want == {}
    assert main(["calibrate", str(rd.path), "--out", str(tmp_path / "p.yaml")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "has no train_stage step times to calibrate from (no train_stage task)" in err[0]
    assert not (tmp_path / "p.yaml").exists()


@pytest.mark.slow
def test_readme_cost_model_commands_run(tmp_path, capsys, monkeypatch):
    import shlex
    import subprocess
    import sys
    from pathlib import Path

    from nmframe.cli import main

    root = Path(__file__).parents[2]
    readme = (root / "README.md").read_text()
    section = readme.split("### Step times and GPU-hours: the cost model", 1)[1].split("\n## ", 1)[0]
    quoted = re.search(r"`(costmodel: speedup [^`]+)`", section).group(1)
    assert "`python bench/bench_costmodel.py`" in section
    bench = subprocess.run([sys.executable, "bench/bench_costmodel.py"], capture_output=True, text=True, check=True,
                           cwd=root).stdout.splitlines()
    assert bench[-1] == quoted
    rd, _ = _synthetic_run(tmp_path, None)
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    cmds = [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip()]
    assert [c.split()[:2] for c in cmds] == [["nmframe", "calibrate"], ["nmframe", "plan"]]
    monkeypatch.chdir(tmp_path)
    for cmd in cmds:
        argv = shlex.split(cmd.replace("outputs/runs/<run>", str(rd.path)))[1:]
        assert main(argv + ([f"paths.outputs={tmp_path}"] if argv[0] == "plan" else [])) == 0, cmd
    out = capsys.readouterr().out
    assert "fitted 4 constants" in out and (tmp_path / "my_cluster.yaml").is_file()
    assert "cost-model constants my_cluster" in out and "everything at ctx128k on TP8 CP8 EP8" in out


def test_baseline_layout_knob():
    from nmframe.config import compose
    from nmframe.config.compose import OverrideError
    from nmframe.config.stage_plan import build_stage_plan
    from nmframe.costmodel import bucketed_vs_single, config_baseline, model_shape
    from nmframe.errors import ConfigError

    plain = compose(["model=qwen3_30b_a3b", "buckets=paper", "trainer=megatron"])
    paper = compose(["experiment=paper/table5_bucketed_vs_full"])
    assert config_baseline(plain, build_stage_plan(plain)) is None
    base = config_baseline(paper, build_stage_plan(paper))
    assert base == Parallelism(gpus=256, tp=8, cp=8, ep=8)
    plan, shape = build_stage_plan(paper), model_shape(paper.model)
    own = bucketed_vs_single(plan, shape)
    released = bucketed_vs_single(plan, shape, baseline=base)
    assert released["bucketed_gpu_hours"] == pytest.approx(own["bucketed_gpu_hours"])
    assert released["single_gpu_hours"] > own["single_gpu_hours"]   # TP8 CP8 at DP4 is the slower layout
    assert "TP8 CP8 EP8" in released["table"]
    bad = compose(["model=qwen3_30b_a3b", "buckets=paper", "trainer=megatron",
                   "costmodel.baseline_layout={tp: 3, cp: 8}"])
    with pytest.raises(ConfigError, match=r"costmodel\.baseline_layout=.*not divisible"):
        config_baseline(bad, build_stage_plan(bad))
    with pytest.raises(OverrideError, match=r"unknown key 'costmodel\.baseline_layout\.tq'; allowed keys .*: tp, cp"):
        compose(["model=qwen3_30b_a3b", "buckets=paper", "trainer=megatron", "costmodel.baseline_layout={tq: 8}"])


def test_packed_stages_are_cached_on_disk_and_read_back_equal(tmp_path, monkeypatch):
    """A plan packs the paper length mix's stages once per machine: the second computation is read
    from $NMFRAME_CACHE/costmodel and equals the first; an unwritable cache is skipped."""
    import numpy as np

    from nmframe.costmodel import plan as cplan
    from nmframe.costmodel.model import Parallelism

    monkeypatch.setenv("NMFRAME_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(cplan, "_PACKED", {})
    x = np.arange(1, 2001, dtype=np.int64)
    par = Parallelism(gpus=8, tp=2)
    first = cplan._packed_stage("s", x, 4096, par, 64, 2.0)
    files = list((tmp_path / "cache" / "costmodel").glob("stage-*.json"))
    assert len(files) == 1
    monkeypatch.setattr(cplan, "_PACKED", {})
    monkeypatch.setattr(cplan, "stage_for", lambda *a, **k: (_ for _ in ()).throw(AssertionError("packed again")))
    again = cplan._packed_stage("s", x, 4096, par, 64, 2.0)
    assert again == first and again.utilisation == first.utilisation
    files[0].write_text("{not json")  # a damaged entry is recomputed, not an error
    monkeypatch.setattr(cplan, "_PACKED", {})
    monkeypatch.setattr(cplan, "stage_for", lambda *a, **k: first)
    assert cplan._packed_stage("s", x, 4096, par, 64, 2.0) == first
