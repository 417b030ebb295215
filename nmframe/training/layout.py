"""The parallel layout of a training stage, checked against the GPUs, heads and experts.

Why a library module: the trainers, the cost model, the pack and train steps and the config
checks all need a stage's layout and its derived sizes (DP, gradient accumulation); keeping it
below the config package lets the trainers use it without importing the config layer.
``nmframe.config.checks`` re-exports it.
"""
from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from nmframe.errors import ConfigError


def _world_size(cfg: DictConfig) -> int:
    return int(cfg.trainer.nodes) * max(int(cfg.trainer.gpus_per_node), 1)


def parallel_spec(cfg: DictConfig, stage_name: str):
    """The parallel layout of a bucket stage, or the map's default."""
    stages = cfg.parallelism.stages
    if stage_name in stages:
        return stages[stage_name]
    if cfg.parallelism.default is not None:
        return cfg.parallelism.default
    raise ConfigError("parallelism.stages", stage_name,
                      f"no layout for bucket stage {stage_name!r} in parallelism={cfg.parallelism.name}",
                      allowed=", ".join(stages) or "none")


def check_parallel_layout(cfg: DictConfig, stage_name: str) -> dict:
    """Validate one stage's layout against the GPU count, heads and experts; return derived sizes."""
    spec = parallel_spec(cfg, stage_name)
    key = f"parallelism.stages.{stage_name}"
    world = _world_size(cfg)
    m = cfg.model
    tp, cp, ep, etp, pp = (int(spec[k]) for k in ("tp", "cp", "ep", "etp", "pp"))
    for name, v in (("tp", tp), ("cp", cp), ("ep", ep), ("etp", etp), ("pp", pp), ("micro_batch_size", spec.micro_batch_size)):
        if v < 1:
            raise ConfigError(f"{key}.{name}", v, "must be >= 1")
    model_par = tp * cp * pp
    if world % model_par:
        raise ConfigError(key, OmegaConf.to_container(spec),
                          f"TP*CP*PP = {tp}*{cp}*{pp} = {model_par} does not divide {world} GPUs "
                          f"(trainer.nodes*trainer.gpus_per_node)",
                          allowed=f"layouts whose TP*CP*PP divides {world}")
    if world % (ep * etp * pp):
        raise ConfigError(key, OmegaConf.to_container(spec),
                          f"EP*ETP*PP = {ep}*{etp}*{pp} = {ep * etp * pp} does not divide {world} GPUs",
                          allowed=f"layouts whose EP*ETP*PP divides {world}")
    if m.num_attention_heads % tp:
        raise ConfigError(f"{key}.tp", tp, f"does not divide model.num_attention_heads={m.num_attention_heads}")
    if m.num_kv_heads % tp and tp % m.num_kv_heads:
        raise ConfigError(f"{key}.tp", tp, f"incompatible with model.num_kv_heads={m.num_kv_heads} "
                          "(one must divide the other)")
    if m.num_layers % pp:
        raise ConfigError(f"{key}.pp", pp, f"does not divide model.num_layers={m.num_layers}")
    if str(m.arch) in ("moe", "Arch.moe"):
        if m.num_experts is None or m.num_experts % ep:
            raise ConfigError(f"{key}.ep", ep, f"does not divide model.num_experts={m.num_experts}")
    elif ep != 1 or etp != 1:
        raise ConfigError(f"{key}.ep", ep, f"model {m.name} is dense: expert parallelism must be 1")
    dp = world // model_par
    micro = int(spec.micro_batch_size)
    gbs = int(cfg.trainer.global_batch_size)
    if gbs % (micro * dp):
        raise ConfigError("trainer.global_batch_size", gbs,
                          f"not a multiple of micro_batch_size*DP = {micro}*{dp} for stage {stage_name}")
    return {"tp": tp, "cp": cp, "ep": ep, "etp": etp, "pp": pp, "dp": dp, "micro_batch_size": micro,
            "global_batch_size": gbs, "grad_accum": gbs // (micro * dp), "world": world}
