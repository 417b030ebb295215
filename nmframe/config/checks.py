"""Cross-field checks that a schema cannot express, run on every composed config before launch.

Each failure names the key, the value and what is allowed, e.g.
  parallelism.stages.16k: TP*CP*PP = 4*2*1 = 8 does not divide 12 GPUs (trainer.nodes*trainer.gpus_per_node)
"""
from __future__ import annotations

from omegaconf import DictConfig

from nmframe.errors import ConfigError
from nmframe.generation.registry import registered_backends
from nmframe.training.layout import check_parallel_layout, parallel_spec
from nmframe.training.optim import LrPlan

__all__ = ["ConfigError", "check_parallel_layout", "parallel_spec", "validate"]


def validate(cfg: DictConfig) -> None:
    """Checks of one composed config. Step names are checked by the engine when it builds the DAG
    (:func:`nmframe.engine.registry.check_pipeline_steps`): steps live above the config."""
    if len(set(cfg.pipeline.steps)) != len(cfg.pipeline.steps):
        raise ConfigError("pipeline.steps", list(cfg.pipeline.steps), "lists a step twice")
    for field in ("only", "force"):
        for s in cfg.pipeline[field]:
            if s not in cfg.pipeline.steps:
                raise ConfigError(f"pipeline.{field}", s, "not a step of this pipeline",
                                  allowed=", ".join(cfg.pipeline.steps))

    if not cfg.source.files:
        raise ConfigError("source.files", [], "a source needs at least one file")
    if cfg.source.max_problems is not None and cfg.source.max_problems < 1:
        raise ConfigError("source.max_problems", cfg.source.max_problems, "must be >= 1 or null")
    if not 0.0 <= cfg.ingest.max_bad_fraction <= 1.0:
        raise ConfigError("ingest.max_bad_fraction", cfg.ingest.max_bad_fraction, "must be in [0, 1]")

    if not cfg.mode.efforts:
        raise ConfigError("mode.efforts", [], "at least one reasoning effort", allowed="high, medium, low")
    if not cfg.tir.enabled:
        raise ConfigError("tir.enabled", [], "at least one of true/false")

    if not 0.0 <= cfg.buckets.final_mix_fraction <= 1.0:
        raise ConfigError("buckets.final_mix_fraction", cfg.buckets.final_mix_fraction, "must be in [0, 1]")

    if cfg.parallelism.model != cfg.model.name:
        raise ConfigError("parallelism", cfg.parallelism.name,
                          f"is the map for model {cfg.parallelism.model!r}, but model={cfg.model.name}",
                          allowed=f"parallelism={cfg.model.name} (the default follows the model)")
    # The stage list and every stage's layout: checked once, where the plan is built.
    from nmframe.config.stage_plan import build_stage_plan

    build_stage_plan(cfg)

    t = cfg.teacher
    backends = registered_backends()
    if str(t.backend) not in backends:
        raise ConfigError("teacher.backend", str(t.backend), "unknown generation backend",
                          allowed=", ".join(backends))
    _check_judge_llm(cfg, backends)
    if not 0.0 < t.top_p <= 1.0:
        raise ConfigError("teacher.top_p", t.top_p, "must be in (0, 1]")
    if t.temperature < 0:
        raise ConfigError("teacher.temperature", t.temperature, "must be >= 0")
    if t.max_tokens < 1 or t.num_samples < 1:
        raise ConfigError("teacher.max_tokens/num_samples", (t.max_tokens, t.num_samples), "must be >= 1")

    tr = cfg.trainer
    LrPlan.from_trainer(tr)
    if str(tr.precision) in ("fp8", "Precision.fp8") and str(tr.backend) in ("torch", "TrainerBackend.torch"):
        raise ConfigError("trainer.precision", "fp8", "FP8 needs the megatron backend with Transformer Engine",
                          allowed="bf16, fp32 for trainer.backend=torch")
    if cfg.launcher.max_parallel < 1:
        raise ConfigError("launcher.max_parallel", cfg.launcher.max_parallel, "must be >= 1")


def _check_judge_llm(cfg: DictConfig, backends: list[str]) -> None:
    """``judge_llm`` named as an LLM needs a judge_llm group choice, served by a registered backend."""
    j = cfg.prep.judge_llm
    users = [k for k, v in (("prep.backend", cfg.prep.backend), ("answers.judge", cfg.answers.judge),
                            ("evaluate.judge", cfg.evaluate.judge)) if v == "judge_llm"]
    if users and j is None:
        raise ConfigError(users[0], "judge_llm", "names the served LLM prep.judge_llm, which is not set",
                          allowed="a judge_llm group choice, e.g. judge_llm=qwen2_5_32b_instruct")
    if j is not None and str(j.backend) not in backends:
        raise ConfigError("prep.judge_llm.backend", str(j.backend), "unknown generation backend",
                          allowed=", ".join(backends))
    if j is not None and int(j.tensor_parallel_size) < 1:
        raise ConfigError("prep.judge_llm.tensor_parallel_size", j.tensor_parallel_size, "must be >= 1")
