"""Per-stage step-time and GPU-hour model for dense and MoE transformers.

Used to choose per-stage parallelism, to budget a schedule in GPU-hours, and to check the
recipe's timing claims (bucketed schedule vs one 128K stage). See :mod:`.model` for the
formulas, :mod:`.paper` for the paper's settings, :mod:`.schedule` for the cost of a packed
stage (the long-bin fill's decision) and :mod:`.plan` for the estimates of a config's stage plan
(the plan's GPU-hours, train_stage's prediction), :mod:`.constants` for the constants files
(the packaged Table 7 calibration, cluster profiles) and :mod:`.calibrate` for fitting a profile
to a run's measured step times.
"""

from .model import (
    H100,
    PRESETS,
    QWEN3_8B,
    QWEN3_30B_A3B,
    CostModel,
    Efficiency,
    Hardware,
    ModelShape,
    Parallelism,
    ScheduleEstimate,
    Stage,
    StageEstimate,
    StepBreakdown,
    FitResult,
    calibrate,
    fit_efficiency,
    gpu_hours,
)
from .paper import (
    PAPER_EPOCHS,
    PAPER_GLOBAL_BATCH,
    PAPER_GPUS,
    PAPER_PARALLELISM,
    PAPER_STEP_TIME_16K,
    PaperComparison,
    full_context_stages,
    paper_comparison,
    paper_parallelism,
    paper_stages,
    stage_for,
)
from .constants import DEFAULT_CONSTANTS, Constants, load_constants, write_constants
from .plan import (
    bucketed_vs_single,
    config_baseline,
    config_constants,
    cost_model,
    estimate_stage,
    model_shape,
    schedule_cost,
    schedule_summary,
)
from .schedule import ScheduleCost, StageSpec

__all__ = [
    "H100",
    "PRESETS",
    "QWEN3_8B",
    "QWEN3_30B_A3B",
    "CostModel",
    "Efficiency",
    "Hardware",
    "ModelShape",
    "Parallelism",
    "ScheduleEstimate",
    "Stage",
    "StageEstimate",
    "StepBreakdown",
    "calibrate",
    "fit_efficiency",
    "FitResult",
    "gpu_hours",
    "PAPER_EPOCHS",
    "PAPER_GLOBAL_BATCH",
    "PAPER_GPUS",
    "PAPER_PARALLELISM",
    "PAPER_STEP_TIME_16K",
    "PaperComparison",
    "full_context_stages",
    "paper_comparison",
    "paper_parallelism",
    "paper_stages",
    "stage_for",
    "ScheduleCost",
    "StageSpec",
    "DEFAULT_CONSTANTS",
    "Constants",
    "load_constants",
    "write_constants",
    "config_baseline",
    "config_constants",
    "cost_model",
    "bucketed_vs_single",
    "estimate_stage",
    "model_shape",
    "schedule_cost",
    "schedule_summary",
]
