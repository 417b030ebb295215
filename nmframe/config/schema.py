"""Dataclass schemas for every config group, registered in Hydra's ConfigStore.

Why: YAML files under conf/ extend these schemas, so a misspelt key or a value of the wrong type
is rejected when the config is composed, before anything launches. Enums list the allowed values
in their error messages. Cross-field rules (parallelism vs GPU count, bucket order, ...) live in
`nmframe.config.checks`.

Defaults here follow the paper (arXiv:2512.15489) where it gives a number; see
the conf/ comments for the table or section each comes from.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from nmframe.config.project import register_outputs_resolver
from nmframe.config.sections import (AnswersConfig, EvaluateConfig, FiltersConfig, GenerateConfig,
                                     MetricsConfig, PrepConfig, SftConfig, StreamConfig)
from nmframe.training.optim import LrSchedule


class Effort(str, enum.Enum):
    high = "high"
    medium = "medium"
    low = "low"


class RowSchema(str, enum.Enum):
    auto = "auto"
    canonical = "canonical"      # {id?, problem, expected_answer?, ...}
    aops_forum = "aops_forum"    # {forum_post, forum_discussions}
    released = "released"        # rows of nvidia/Nemotron-Math-v2
    benchmark = "benchmark"      # {id, subset_for_metrics, problem, expected_answer}


class FileFormat(str, enum.Enum):
    auto = "auto"
    jsonl = "jsonl"
    parquet = "parquet"


class TrainerBackend(str, enum.Enum):
    megatron = "megatron"
    torch = "torch"


class Precision(str, enum.Enum):
    bf16 = "bf16"
    fp8 = "fp8"
    fp32 = "fp32"


class Fp8Recipe(str, enum.Enum):
    delayed = "delayed"
    tensorwise = "tensorwise"
    blockwise = "blockwise"
    mxfp8 = "mxfp8"


class Arch(str, enum.Enum):
    dense = "dense"
    moe = "moe"


class LauncherKind(str, enum.Enum):
    local = "local"
    slurm = "slurm"
    dryrun = "dryrun"


class DryRunTarget(str, enum.Enum):
    local = "local"
    slurm = "slurm"


class WandbMode(str, enum.Enum):
    offline = "offline"
    online = "online"
    disabled = "disabled"


# --------------------------------------------------------------------------------------------
#: The recipe (arXiv:2512.15489, Sec. 2-4): problems are ingested, classified and decontaminated; the
#: teacher writes solutions per (mode, tir); answers are validated, trivial problems and wrong traces
#: removed; the traces are tokenized, bucketed by length and packed; the student is trained stage by
#: stage and evaluated. The default pipeline, so that a sweep over any knob of the recipe
#: (trainer.lr, buckets, model, source) compiles to the tasks it changes.
RECIPE_STEPS = ("ingest", "classify", "decontaminate", "generate", "validate_answers", "filter_trivial",
                "filter_correct", "prepare_sft", "bucketize", "pack", "train_stage", "evaluate")


@dataclass
class PipelineConfig:
    steps: List[str] = field(default_factory=lambda: list(RECIPE_STEPS))  # in dependency order
    only: List[str] = field(default_factory=list)   # run these steps (and missing upstream ones)
    force: List[str] = field(default_factory=list)  # recompute these steps even if cached


@dataclass
class SourceFile:
    path: str = MISSING
    schema: RowSchema = RowSchema.auto
    format: FileFormat = FileFormat.auto
    data_source: Optional[str] = None  # label given to rows that carry none


@dataclass
class SourceConfig:
    name: str = MISSING
    description: str = ""
    files: List[SourceFile] = field(default_factory=list)
    include_data_sources: List[str] = field(default_factory=list)  # [] keeps every data_source
    max_problems: Optional[int] = None


@dataclass
class IngestConfig:
    max_bad_fraction: float = 0.05  # fail the step when more than this fraction of lines is bad
    drop_duplicates: bool = True
    report_examples: int = 20       # bad lines listed (file:line, reason) in the report


@dataclass
class ModeConfig:
    name: str = MISSING
    efforts: List[Effort] = field(default_factory=lambda: [Effort.high])


@dataclass
class TirConfig:
    name: str = MISSING
    enabled: List[bool] = field(default_factory=lambda: [True])
    max_calls: int = 100          # python executions per sample
    output_chars: int = 1000      # tool output shown to the model
    call_timeout_s: float = 10.0  # per execution


@dataclass
class BucketStage:
    name: str = MISSING
    max_len: int = MISSING


@dataclass
class BucketsConfig:
    name: str = MISSING
    stages: List[BucketStage] = field(default_factory=list)
    final_mix_fraction: float = 0.1  # medium/low share mixed into the last stage (paper: "small")
    seed: int = 0


@dataclass
class ModelConfig:
    name: str = MISSING
    hf_id: Optional[str] = None
    tokenizer: str = MISSING
    arch: Arch = Arch.dense
    num_layers: int = MISSING
    hidden_size: int = MISSING
    ffn_hidden_size: int = MISSING
    num_attention_heads: int = MISSING
    num_kv_heads: int = MISSING
    head_dim: int = MISSING
    vocab_size: int = MISSING
    max_position_embeddings: int = 131072
    num_experts: Optional[int] = None
    moe_router_topk: Optional[int] = None
    moe_ffn_hidden_size: Optional[int] = None
    tiny: bool = False  # built from this config with random weights (no hub download)


@dataclass
class ParallelSpec:
    tp: int = 1
    cp: int = 1
    ep: int = 1
    etp: int = 1
    pp: int = 1
    micro_batch_size: int = 1


@dataclass
class ParallelismConfig:
    name: str = MISSING
    model: str = MISSING  # the model.name this map is for
    stages: Dict[str, ParallelSpec] = field(default_factory=dict)  # bucket stage name -> layout
    default: Optional[ParallelSpec] = None


@dataclass
class BaselineLayout:
    """The everything-at-the-largest-length run's layout; all None: the final stage's, else unset ones are 1."""
    tp: Optional[int] = None
    cp: Optional[int] = None
    ep: Optional[int] = None
    etp: Optional[int] = None
    pp: Optional[int] = None


@dataclass
class CostModelConfig:
    """Which constants the cost model plans with, and the layout of the baseline it compares to."""
    profile: Optional[str] = None   # constants file (`nmframe calibrate` writes one); None: the packaged paper_h100
    # everything-at-the-largest-length run's layout, e.g. costmodel.baseline_layout={tp:8,cp:8,ep:8};
    # unset: the final stage's layout
    baseline_layout: BaselineLayout = field(default_factory=BaselineLayout)


@dataclass
class TeacherConfig:
    name: str = MISSING
    model: str = MISSING
    backend: str = "vllm"         # a registered generation backend (nmframe.generation.registry)
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 120_000
    num_samples: int = 8          # solutions per problem per (mode, tir)
    tensor_parallel_size: int = 1
    gpus_per_node: int = 8
    endpoint: Optional[str] = None
    max_concurrency: int = 64
    max_retries: int = 5
    tiny: bool = False


@dataclass
class TrainerConfig:
    name: str = MISSING
    backend: TrainerBackend = TrainerBackend.megatron
    lr: float = 2e-4
    lr_schedule: LrSchedule = LrSchedule.constant  # paper: constant, no warmup (nmframe.training.optim)
    warmup_steps: int = 0
    min_lr: Optional[float] = None      # cosine/linear: the rate at the end of the decay (None: 0)
    lr_decay_steps: Optional[int] = None  # cosine/linear: optimizer steps the decay spans (warmup included)
    weight_decay: float = 0.01
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_eps: float = 1e-8
    grad_clip: Optional[float] = None  # paper: clipping off
    global_batch_size: int = 2048
    epochs: float = 2.0
    max_steps: Optional[int] = None
    precision: Precision = Precision.bf16
    fp8_recipe: Fp8Recipe = Fp8Recipe.delayed
    nodes: int = 32
    gpus_per_node: int = 8
    seed: int = 1234
    time_min_per_stage: int = 1440


@dataclass
class SlurmConfig:
    partition: Optional[str] = None
    account: Optional[str] = None
    qos: Optional[str] = None
    constraint: Optional[str] = None
    gpus_per_node: Optional[int] = None
    cpus_per_task: Optional[int] = None
    mem_gb: Optional[int] = None
    time_min: Optional[int] = None
    setup: List[str] = field(default_factory=list)
    additional: Dict[str, str] = field(default_factory=dict)
    array_parallelism: int = 64
    poll_interval_s: float = 5.0


@dataclass
class LauncherConfig:
    name: str = MISSING
    kind: LauncherKind = LauncherKind.local
    max_parallel: int = 2
    cpu_budget: Optional[int] = None
    dryrun_target: DryRunTarget = DryRunTarget.local
    slurm: SlurmConfig = field(default_factory=SlurmConfig)


@dataclass
class TrackingConfig:
    wandb_mode: WandbMode = WandbMode.offline
    project: str = "nmframe"
    entity: Optional[str] = None


@dataclass
class PathsConfig:
    outputs: str = "${nmframe_outputs:}"  # $NMFRAME_OUTPUTS, else <project root>/outputs (nmframe.config.project)
    artifacts: str = "${paths.outputs}/artifacts"
    runs: str = "${paths.outputs}/runs"
    data: str = "data"
    keep_scratch: bool = False  # keep a task's scratch (partial work) after its artifact is committed


@dataclass
class SandboxConfig:
    """How model-written Python is contained (generate and evaluate, TIR tasks)."""
    allow_unisolated: bool = False    # run it even where the host cannot isolate it (refused otherwise)
    cgroup_parent: Optional[str] = None  # delegated cgroup for sessions, below this process's own (None: its own)


@dataclass
class NmConfig:
    name: str = "default"
    description: str = ""
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    source: SourceConfig = MISSING
    ingest: IngestConfig = field(default_factory=IngestConfig)
    mode: ModeConfig = MISSING
    tir: TirConfig = MISSING
    buckets: BucketsConfig = MISSING
    model: ModelConfig = MISSING
    parallelism: ParallelismConfig = MISSING
    teacher: TeacherConfig = MISSING
    trainer: TrainerConfig = MISSING
    launcher: LauncherConfig = MISSING
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    generate: GenerateConfig = field(default_factory=GenerateConfig)
    answers: AnswersConfig = field(default_factory=AnswersConfig)
    filters: FiltersConfig = field(default_factory=FiltersConfig)
    sft: SftConfig = field(default_factory=SftConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)
    prep: PrepConfig = field(default_factory=PrepConfig)
    stream: StreamConfig = field(default_factory=StreamConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    costmodel: CostModelConfig = field(default_factory=CostModelConfig)


GROUP_SCHEMAS = {
    "source": SourceConfig, "mode": ModeConfig, "tir": TirConfig, "buckets": BucketsConfig,
    "model": ModelConfig, "parallelism": ParallelismConfig, "teacher": TeacherConfig,
    "trainer": TrainerConfig, "launcher": LauncherConfig,
}


def register_schemas() -> None:
    register_outputs_resolver()
    cs = ConfigStore.instance()
    cs.store(name="nmframe_schema", node=NmConfig)
    for group, schema in GROUP_SCHEMAS.items():
        cs.store(group="schema", name=group, node=schema)
