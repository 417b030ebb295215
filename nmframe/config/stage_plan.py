"""Build the typed stage plan (:class:`nmframe.sft.stage_plan.StagePlan`) from a composed config.

The one place that reads ``buckets.stages`` and the parallel layouts together: the stage list
is checked (at least one stage, unique names, strictly increasing lengths that are multiples of
128 and fit the model's positions), each stage's layout is checked against the GPU count, heads
and experts (:func:`nmframe.config.checks.check_parallel_layout`), and each stage length must be
a multiple of its packed-sequence padding ``lcm(128, 2 * CP)``. Every failure is one
:class:`~nmframe.config.checks.ConfigError` naming the key (and the stage).
"""
from __future__ import annotations

from omegaconf import DictConfig

from nmframe.errors import ConfigError
from nmframe.training.layout import check_parallel_layout
from nmframe.packing import default_pad_multiple
from nmframe.sft.stage_plan import Layout, Stage, StagePlan, pack_settings


def _check_stage_list(cfg: DictConfig) -> None:
    stages = cfg.buckets.stages
    if not stages:
        raise ConfigError("buckets.stages", [], "at least one stage")
    names = [s.name for s in stages]
    if len(set(names)) != len(names):
        raise ConfigError("buckets.stages", names, "stage names must be unique")
    lens = [int(s.max_len) for s in stages]
    for i, (a, b) in enumerate(zip(lens, lens[1:])):
        if b <= a:
            raise ConfigError(f"buckets.stages[{i + 1}].max_len", b, f"must be larger than the previous stage's {a}",
                              allowed="strictly increasing lengths")
    for i, n in enumerate(lens):
        if n % 128:
            raise ConfigError(f"buckets.stages[{i}].max_len", n, "must be a multiple of 128 (packed lengths are)")
        if n > cfg.model.max_position_embeddings:
            raise ConfigError(f"buckets.stages[{i}].max_len", n,
                              f"exceeds model.max_position_embeddings={cfg.model.max_position_embeddings}")


#: The config paths :func:`build_stage_plan` and :func:`stage_pack_settings` read (the stage list,
#: layouts, batch): a step whose key holds the plan declares them in its `extra_reads`.
STAGE_PLAN_READS = ("buckets.stages", "parallelism", "model", "trainer.backend", "trainer.nodes",
                    "trainer.gpus_per_node", "trainer.global_batch_size", "trainer.epochs")
PACK_SETTINGS_READS = (*STAGE_PLAN_READS, "sft.pack_seed", "sft.template")


def build_stage_plan(cfg: DictConfig) -> StagePlan:
    """The config's bucket stages in training order, validated; a ConfigError names the bad key."""
    _check_stage_list(cfg)
    backend = str(cfg.trainer.backend)
    out = []
    for i, s in enumerate(cfg.buckets.stages):
        name, max_len = str(s.name), int(s.max_len)
        layout = Layout(**check_parallel_layout(cfg, name))
        pad_multiple = default_pad_multiple(layout.cp)
        if max_len % pad_multiple:
            raise ConfigError(f"buckets.stages[{i}].max_len", max_len,
                              f"stage {name}: not a multiple of lcm(128, 2*CP)={pad_multiple} "
                              f"(CP={layout.cp} from parallelism.stages.{name})")
        sample_multiple = 2 * layout.cp if (backend == "megatron" and layout.cp > 1) else 1
        out.append(Stage(name=name, index=i, max_len=max_len, layout=layout, pad_multiple=pad_multiple,
                         sample_multiple=sample_multiple))
    return StagePlan(stages=tuple(out), global_batch_size=int(cfg.trainer.global_batch_size),
                     epochs=float(cfg.trainer.epochs), backend=backend)


def stage_pack_settings(cfg: DictConfig, plan: StagePlan, name: str) -> dict:
    """:func:`nmframe.sft.stage_plan.pack_settings` with the config's seed, tokenizer and template."""
    return pack_settings(plan, name, seed=int(cfg.sft.pack_seed), tokenizer=str(cfg.model.tokenizer),
                         template=str(cfg.sft.template))
