"""The typed stage plan: lookups, derived padding, and one clear error per bad stage setting."""
import pytest

from nmframe.config import ConfigError, compose
from nmframe.config.stage_plan import build_stage_plan, stage_pack_settings

PAPER_30B = ["model=qwen3_30b_a3b", "buckets=paper", "trainer=megatron"]


def test_lookups_by_name_index_final_previous():
    plan = build_stage_plan(compose(PAPER_30B))
    assert plan.names == ["ctx16k", "ctx32k", "ctx64k", "ctx128k"]
    assert plan.edges == [16384, 32768, 65536, 131072]
    s = plan.by_name("ctx64k")
    assert (s.index, s.max_len) == (2, 65536) and plan[2] is s
    assert plan.previous(s) is plan.by_name("ctx32k") and plan.previous("ctx16k") is None
    assert plan.final.name == "ctx128k" and plan.is_final("ctx128k") and not plan.is_final(s)
    with pytest.raises(KeyError, match="no bucket stage 'ctx8k' .*ctx16k, ctx32k, ctx64k, ctx128k"):
        plan.by_name("ctx8k")


def test_layout_and_derived_sizes_follow_the_parallelism_map():
    plan = build_stage_plan(compose(PAPER_30B))
    lay = plan.by_name("ctx32k").layout          # paper Table 6: TP4 CP4 EP8 on 32 x 8 GPUs
    assert (lay.tp, lay.cp, lay.ep, lay.pp, lay.world) == (4, 4, 8, 1, 256)
    assert lay.dp == 256 // 16 and lay.grad_accum == 2048 // (lay.micro_batch_size * lay.dp)
    assert lay.to_dict()["cp"] == 4 and set(lay.to_dict()) >= {"tp", "cp", "ep", "etp", "pp", "dp", "world"}
    assert plan.global_batch_size == 2048 and plan.backend == "megatron"


def test_pad_multiple_is_lcm_128_2cp_and_sample_padding_needs_megatron_cp():
    plan = build_stage_plan(compose(PAPER_30B))
    assert [s.pad_multiple for s in plan] == [128, 128, 128, 128]     # 2*CP <= 16 divides 128
    assert [s.sample_multiple for s in plan] == [4, 8, 16, 16]        # 2 * CP under Megatron
    torch = build_stage_plan(compose([*PAPER_30B, "trainer.backend=torch", "trainer.precision=bf16"]))
    assert [s.sample_multiple for s in torch] == [1, 1, 1, 1]
    wide = build_stage_plan(compose([*PAPER_30B, "parallelism.stages.ctx128k.tp=1",
                                     "parallelism.stages.ctx128k.cp=128"]))
    assert wide.final.pad_multiple == 256 and wide.final.sample_multiple == 256


def test_pack_settings_are_the_stage_and_schedule_values():
    cfg = compose(PAPER_30B)
    s = stage_pack_settings(cfg, build_stage_plan(cfg), "ctx32k")
    assert {k: s[k] for k in ("stage", "index", "capacity", "cp", "pad_multiple", "sample_multiple", "backend",
                              "global_batch_size", "epochs")} == {
        "stage": "ctx32k", "index": 1, "capacity": 32768, "cp": 4, "pad_multiple": 128, "sample_multiple": 8,
        "backend": "megatron", "global_batch_size": 2048, "epochs": float(cfg.trainer.epochs)}


@pytest.mark.parametrize("overrides,key,why", [
    (["parallelism.stages.ctx32k.tp=64"], "parallelism.stages.ctx32k.tp", "num_attention_heads"),
    (["parallelism.stages.ctx64k.tp=3"], "parallelism.stages.ctx64k", "does not divide 256 GPUs"),
    (["parallelism.stages.ctx128k.tp=1", "parallelism.stages.ctx128k.cp=128",
      "buckets.stages=[{name: ctx16k, max_len: 16384}, {name: ctx128k, max_len: 130944}]"],
     "buckets.stages[1].max_len", "stage ctx128k: not a multiple of lcm(128, 2*CP)=256"),
    (["buckets.stages=[{name: a, max_len: 1024}, {name: a, max_len: 2048}]"], "buckets.stages", "unique"),
])
def test_bad_stage_settings_name_the_stage_and_key(overrides, key, why):
    with pytest.raises(ConfigError) as err:
        compose([*PAPER_30B, *overrides])
    assert err.value.key == key and why in str(err.value)
