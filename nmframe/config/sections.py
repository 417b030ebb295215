"""Schemas of the per-step settings sections (generate, answers, filters, sft, evaluate).

Kept apart from the group schemas in `schema.py`: these are knobs of the pipeline's steps rather
than choices of a group, and each step's module documents its own.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import List, Optional

from omegaconf import MISSING


@dataclass
class GenerateConfig:
    shards: int = 1                   # problems are split into this many shards, one task each
    max_problems: Optional[int] = None  # cap for smoke runs (the first N problems of ingest)
    seed: int = 0                     # base of the per-sample engine seeds
    batch_size: int = 64              # samples per tool-loop batch (one backend call per round)
    max_model_len: Optional[int] = None  # engine/server context (None: the model's own)
    tool_workers: int = 8             # sandbox executions run in parallel within a round
    sandbox_sessions: int = 256       # live Python sessions per task
    sandbox_memory_mb: int = 2048     # address-space limit of each session
    count_teacher_tokens: bool = True  # exact o200k counts of prompt and completion in records
    fsync: bool = True                # fsync every record (a kill loses at most the sample in flight)
    request_timeout_s: float = 7200.0  # one HTTP completion (openai backend)
    retry_backoff_s: float = 1.0      # first retry delay, doubled per retry
    retry_backoff_max_s: float = 60.0
    api_key_env: Optional[str] = None  # environment variable holding the endpoint's API key
    server_port: Optional[int] = None  # port of the task's own vllm serve (None: a free one)
    server_start_timeout_s: float = 1800.0
    server_args: List[str] = field(default_factory=list)  # extra `vllm serve` arguments
    gpu_memory_utilization: float = 0.9
    cpus: int = 8                     # CPUs per task (tool sessions run there)
    mem_gb: Optional[int] = None
    time_min: int = 1440


@dataclass
class AnswersConfig:
    grade_timeout_s: float = 5.0
    workers: Optional[int] = None     # grading processes (default: all cores)
    samples_step: str = "generate"    # the step whose samples.jsonl feed validation and the filters
    validate_mode: str = "high"       # reasoning effort of the samples that validate answers (paper: high)
    judge: Optional[str] = None       # LLM judge of agreement: "teacher" (the run's teacher backend), "judge_llm" (prep.judge_llm) or "module:factory" (factory(cfg) -> callable(prompt) -> reply); None: math-verify only
    judge_max_answers: int = 4        # distinct unconfirmed answers per problem shown to the judge


@dataclass
class FiltersConfig:
    trivial_threshold: float = 0.8
    trivial_strict: bool = True       # remove when pass rate > threshold (False: >=)
    trivial_mode: str = "low"         # reasoning effort of the attempts that decide triviality (paper: low)
    trivial_source: str = "auto"      # samples | metadata (released rows' reason_low_*_tool) | auto (samples if generated)
    keep_ungraded: bool = False       # correctness filter: keep traces the grader could not decide
    classify_method: str = "heuristic"  # heuristic (rules decide all) | rules_llm (confident rules, the prep.backend LLM for the rest)
    classify_remove: List[str] = field(default_factory=lambda: ["invalid", "multiple_choice", "proof", "yes_no"])
    decontam_benchmarks: List[str] = field(default_factory=lambda: ["pkg://benchmarks/comp-math-24-25.jsonl"])
    decontam_ngram: int = 13          # word n-gram size
    decontam_min_shared: int = 1      # shared n-grams that make a candidate
    decontam_method: str = "ngram"    # ngram (a candidate is removed) | rules_llm (near-verbatim by rule, the prep.backend LLM for the rest)


@dataclass
class ImportSourceConfig:
    """One input of step import_traces (nmframe.sft.external): files of one shape, or an earlier step's traces."""
    label: str = ""                   # the name the arms' mixes use; sources may share a label
    path: Optional[str] = None        # JSONL/Parquet file, folder or glob
    step: Optional[str] = None        # or: the trace artifacts of this earlier step of the run (filter_correct)
    schema: str = "auto"              # auto | released | omr | chat | traces
    mode: Optional[str] = None        # mode of rows that carry none (released: else the split in the file name; others: else high)
    include_modes: List[str] = field(default_factory=list)  # [] keeps every mode
    include_tir: Optional[bool] = None  # keep only TIR (true) or only non-TIR (false) traces; None keeps both


@dataclass
class SftConfig:
    template: str = "harmony"         # harmony (the teacher's format, as the paper) | chat (student template)
    input_step: str = "filter_correct"  # the step whose artifacts hold the traces to train on (import_traces: an arm)
    import_files: List[ImportSourceConfig] = field(default_factory=list)  # inputs of step import_traces
    arms: dict[str, dict[str, float]] = field(default_factory=dict)  # arm -> {source label: fraction}, summing to 1
    arm: Optional[str] = None         # the arm import_traces writes (sweep it: -m sft.arm=a,b); None: every trace
    import_max_examples: Optional[int] = None  # traces of the arm in all, split by its fractions (None: as many as they allow)
    import_match_problems: bool = False  # keep only problems present in every source (normalised-text problem id)
    import_seed: int = 0              # the seeded draw of each label's traces
    require_finished: bool = True     # skip completions that do not end in a final answer (false: smoke runs)
    workers: Optional[int] = None     # tokenizer processes (default: all cores)
    parallel_min_traces: int = 2000   # fewer traces are tokenized in-process
    pack_seed: int = 0                # shuffle of each epoch before packing into global batches
    checkpoint_every: int = 50        # mid-stage checkpoint interval in steps (resume after a kill)
    export_hf: bool = True            # megatron: also write checkpoint/hf/ (Hugging Face) after the final stage
    fill_long_bins: bool = False      # move short traces into later stages' free bin space if predicted faster (nmframe.sft.fill)


@dataclass
class EvaluateConfig:
    """Benchmark evaluation (step evaluate, nmframe.evaluation; paper: 16 samples, T=1.0, top_p=1.0, 120K)."""
    benchmarks: List[str] = field(default_factory=lambda: ["comp-math-24-25"])  # names in nmframe.benchmarks
    model: str = "student"            # student (the last train_stage checkpoint) | a model path or hub id (a base model)
    configs: List[str] = field(default_factory=lambda: ["high/tir", "high/notir", "medium/tir", "medium/notir",
                                                        "low/tir", "low/notir"])  # "<effort>/<tir|notir>"
    # prompt format: auto (sft.template for the student, chat for a base model) | harmony (the teacher's format,
    # reasoning effort in the system message, Python tool loop) | chat (the model's own chat template, thinking on;
    # no effort modes and no tool: evaluate.configs must then be [high/notir], see nmframe.evaluation.chat_sampling)
    prompt_format: str = "auto"
    samples: Optional[int] = None     # samples per problem (None: the benchmark's own, 16 / HLE 4)
    max_problems: Optional[int] = None  # smoke runs: the first N problems of each subset
    shards: int = 1                   # problems split into this many tasks per (benchmark, config)
    backend: str = "auto"             # auto (hf for a tiny model, else vllm) | hf | vllm | openai
    endpoint: Optional[str] = None    # an OpenAI-compatible server already serving the model (backend openai)
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 120_000
    seed: int = 0                     # base of the per-sample engine seeds
    batch_size: int = 64              # samples per tool-loop round
    tensor_parallel_size: int = 1     # GPUs per evaluate task (vllm)
    cpus: int = 8
    time_min: int = 720
    comp_math_file: str = "pkg://benchmarks/comp-math-24-25.jsonl"
    hle_math_file: Optional[str] = None  # HLE-Math problems (not shipped; required when hle-math is evaluated)
    judge: Optional[str] = None       # LLM judge (hle-math): judge_llm (prep.judge_llm, served after sampling) | "module:factory", e.g. nmframe.evaluation.judge:chat_endpoint
    judge_endpoint: Optional[str] = None  # OpenAI-compatible base URL of the judge (chat_endpoint factory)
    judge_model: str = "Qwen/Qwen2.5-32B-Instruct"
    judge_workers: int = 16
    alpha: float = 0.05               # confidence level of intervals and paired tests in reports


@dataclass
class JudgeLLMConfig:
    """A served instruction model for the LLM steps (config group judge_llm, at prep.judge_llm), named
    ``judge_llm`` by ``prep.backend``, ``answers.judge`` and ``evaluate.judge``. It runs on the same
    generation backends as the teacher (nmframe.generation.registry); its replies are sampled with
    ``prep.temperature`` / ``prep.max_tokens``."""
    name: str = MISSING
    model: str = MISSING              # hub id, local folder or builtin:<name>
    backend: str = "vllm"             # a registered generation backend: vllm | openai | hf
    tensor_parallel_size: int = 1     # GPUs of one engine (vllm, and the vllm serve of openai)
    gpus_per_node: int = 8
    endpoint: Optional[str] = None    # openai: a server already serving the model (no GPUs for the task then)
    max_model_len: Optional[int] = None  # engine context (None: the model's own)
    max_concurrency: int = 64         # openai: requests in flight
    max_retries: int = 5


@dataclass
class PrepConfig:
    """The LLM-backed curation steps (extract_problems, extract_answers, and classify / decontaminate
    with method rules_llm; see nmframe.curation)."""
    cutoff_date: str = "2024-07-01"   # StackExchange posts created on or after this date are excluded (paper: dumps before July 2024)
    backend: str = "teacher"          # teacher (cfg.teacher's backend) | judge_llm (the served model prep.judge_llm) | none (rules only) | "module:factory" (callable(prompt) -> reply)
    judge_llm: Optional[JudgeLLMConfig] = None  # chosen with the config group judge_llm (e.g. judge_llm=qwen2_5_32b_instruct)
    reasoning_effort: str = "low"     # harmony reasoning effort of the preparation prompts (gpt-oss teachers)
    max_tokens: int = 4096            # reply budget of one preparation prompt
    temperature: float = 0.0
    batch_size: int = 32              # uncertain rows sent to the backend per call
    on_no_decision: str = "hold"      # classify/decontaminate rows without a decision: hold (undecided.jsonl) | keep
    rule_max_sentences: int = 2       # a post this short, without chatter or enumeration, is its own problem (rule)
    rule_max_chars: int = 600
    decontam_rule_containment: float = 0.9  # n-gram containment at which the rule removes without asking the LLM
    max_posts: Optional[int] = None   # smoke runs: the first N raw posts/questions
    report_examples: int = 20


@dataclass
class StreamConfig:
    """Streaming the released dataset at full scale (step stream_released; see nmframe.stream)."""
    files: List[str] = field(default_factory=list)  # Parquet files/dirs/globs of released rows ([]: source.files)
    length_column: Optional[str] = "auto"  # trace length in tokens: a column name, auto (num_tokens/length/...), or null (tokenize)
    drop_no_answer: bool = True       # drop rows without expected_answer
    drop_trivial: bool = True         # pass-rate filter from metadata (filters.trivial_* settings)
    drop_changed_answer: bool = False  # drop rows whose expected_answer was replaced by the majority
    include_modes: List[str] = field(default_factory=list)  # [] keeps every mode
    include_tir: List[bool] = field(default_factory=list)   # [] keeps both
    batch_rows: int = 65536           # rows read per batch (bounded memory)
    checkpoint_rows: int = 1_000_000  # a resume checkpoint at the first row-group end past this many rows
    workers: Optional[int] = None     # tokenizer processes (default: all cores)
    pack: bool = True                 # pack each bucket into bins of its max_len
    pack_multiple: int = 1            # per-sample padding the packer accounts for
    keep_columns: List[str] = field(default_factory=list)  # extra input columns copied to the output ([]: all)


class MajVote(str, enum.Enum):
    exact = "exact"              # answers vote as the strings they are (the authors' evaluator, NeMo-Skills)
    equivalence = "equivalence"  # equivalent answers vote together (1/2, 0.5, \\frac{1}{2} are one class)


class MajTies(str, enum.Enum):
    average = "average"  # a tie scores the mean correctness of the tied answers (NeMo-Skills)
    first = "first"      # the tied answer seen first wins


@dataclass
class MetricsConfig:
    """How maj@k votes (nmframe.metrics.estimators). Read by evaluate's scores and by reports; not part of
    any task's key, so switching conventions re-scores without re-sampling. The paper's experiments use the
    authors' evaluator's conventions (exact strings, averaged ties); the report states which were used."""
    vote: MajVote = MajVote.equivalence
    ties: MajTies = MajTies.first
