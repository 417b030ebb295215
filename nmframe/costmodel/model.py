"""Step-time and GPU-hour model for a staged long-context SFT schedule.

Why: the bucketed schedule (16K -> 32K -> 64K -> 128K, parallelism re-tuned per stage) is worth
it only if it saves time over training everything at 128K; choosing per-stage parallelism and
estimating a run's GPU-hours needs a model that can be checked against a few measured steps.

Step time of one stage (seconds)::

    t = F_linear / (G * peak * e_linear)          # GEMMs: 3x forward FLOPs of all matmuls
      + F_attn   / (G * peak * e_attn)            # causal attention scores + AV
      + c_comm   * (TP + CP + EP + DP traffic per GPU / link bandwidth)
      + d_doc    * documents per data-parallel rank   # fixed cost of each packed document
    t *= 1 + (PP - 1) / microbatches              # pipeline bubble (PP = 1 in the recipe)

* ``F_linear = 3 * tokens * (2 * active matmul params + 2 * hidden * vocab)`` counted on all
  computed tokens (packing padding included, via the stage's utilisation).
* ``F_attn = 3 * layers * 2 * q_dim * sum(len^2)``: causal attention costs ``2 * q_dim * s^2``
  forward FLOPs per layer for a sample of ``s`` tokens (QK^T and AV, half the square each). With
  varlen (per-sample) attention ``sum(len^2)`` runs over the samples of the step; without a
  per-sample mask it runs over the packed sequences; with no composition given every sample is
  assumed to be full length (``tokens * context``).
* Communication, bytes per GPU per step, ``b`` = 2 (bf16) activations:
  - TP with sequence parallelism: an all-gather and a reduce-scatter around attention (and
    around the MLP of dense layers), forward and backward: ``layers * (4 + 4 * dense) *
    (TP-1)/TP * T_cp * hidden * b`` where ``T_cp`` is the tokens per context-parallel rank.
  - CP (ring attention): every rank receives the other ``CP-1`` ranks' K and V forward, and
    again plus dK/dV backward: ``layers * 3 * (CP-1) * T_cp * 2 * kv_dim_per_gpu * b``.
  - EP (all-to-all): dispatch and combine, forward and backward, of each token's ``k`` expert
    copies: ``moe_layers * 4 * (EP-1)/EP * T_gpu * k * hidden * b`` (tokens are split over TP).
  - DP (distributed optimizer): reduce-scatter of fp32 grads and all-gather of bf16 params,
    ``2 * (D-1)/D * params_per_gpu * 3`` bytes, dense params over DP x CP, experts over the
    expert-data-parallel group; only ``1 - Hardware.dp_overlap`` (default 10%) of it is charged,
    the rest overlaps with compute.
  A group whose ranks span more than one node is charged at the per-GPU network bandwidth,
  otherwise at NVLink bandwidth. Rank order is Megatron's: TP innermost, then CP; experts
  ETP then EP. So CP8 x TP4 crosses nodes while CP2 x TP4 does not: this is what makes the
  16K bucket slower on the 128K parallelism.

* Per-document overhead: every packed document pays a fixed cost on each rank that holds it
  (varlen attention setup, its padding to ``2 * CP``, the latency of its ring-attention steps,
  kernel launches), whatever its length. A step carries ``global_batch / DP`` documents per
  data-parallel rank, so a stage of many short documents on a small DP (the 16K bucket on the
  128K layout, the everything-at-128K baseline) pays it most.

``e_linear``, ``e_attn``, ``c_comm`` and ``d_doc`` are the constants :func:`fit_efficiency`
fits from measured step times: the step time is linear in ``(1/e_linear, 1/e_attn, c_comm,
d_doc)``, so the fit is a least squares on relative errors with physical bounds (an efficiency
is at most 1, a multiplier or an overhead is not negative).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

__all__ = [
    "ModelShape",
    "Parallelism",
    "Hardware",
    "Efficiency",
    "Stage",
    "StepBreakdown",
    "StageEstimate",
    "ScheduleEstimate",
    "CostModel",
    "calibrate",
    "fit_efficiency",
    "FitResult",
    "QWEN3_8B",
    "QWEN3_30B_A3B",
    "PRESETS",
    "H100",
    "gpu_hours",
]

BYTES_ACT = 2  # bf16 activations
BYTES_DP = 3  # fp32 grad reduce-scatter (4) + bf16 param all-gather (2), halved per pass below


@dataclass(frozen=True)
class ModelShape:
    """Transformer shape. MoE when ``experts > 0`` (every layer MoE, no shared expert)."""

    name: str
    layers: int
    hidden: int
    ffn: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    experts: int = 0
    active_experts: int = 0
    moe_ffn: int = 0
    tied_embeddings: bool = False

    @property
    def is_moe(self) -> bool:
        return self.experts > 0

    @property
    def q_dim(self) -> int:
        return self.heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.head_dim

    @property
    def attn_params_per_layer(self) -> int:
        h = self.hidden
        return h * self.q_dim + 2 * h * self.kv_dim + self.q_dim * h

    @property
    def mlp_params_per_layer(self) -> int:
        """All MLP weights of one layer (all experts for MoE), SwiGLU = 3 matrices."""
        if self.is_moe:
            return self.experts * 3 * self.hidden * self.moe_ffn + self.hidden * self.experts
        return 3 * self.hidden * self.ffn

    @property
    def active_mlp_params_per_layer(self) -> int:
        if self.is_moe:
            return self.active_experts * 3 * self.hidden * self.moe_ffn + self.hidden * self.experts
        return self.mlp_params_per_layer

    @property
    def embedding_params(self) -> int:
        return self.vocab * self.hidden * (1 if self.tied_embeddings else 2)

    @property
    def params(self) -> int:
        """Total parameters (norm weights ignored)."""
        return self.layers * (self.attn_params_per_layer + self.mlp_params_per_layer) + self.embedding_params

    @property
    def active_params(self) -> int:
        return self.layers * (self.attn_params_per_layer + self.active_mlp_params_per_layer) + self.embedding_params

    @property
    def expert_params(self) -> int:
        if not self.is_moe:
            return 0
        return self.layers * self.experts * 3 * self.hidden * self.moe_ffn

    def linear_flops_per_token(self) -> float:
        """Forward FLOPs per token of all matmuls (attention projections, MLP/experts, LM head)."""
        per_layer = self.attn_params_per_layer + self.active_mlp_params_per_layer
        return 2.0 * (self.layers * per_layer + self.hidden * self.vocab)

    def attn_flops(self, sum_sq: float) -> float:
        """Forward FLOPs of causal attention for sequences whose squared lengths sum to ``sum_sq``."""
        return self.layers * 2.0 * self.q_dim * float(sum_sq)


#: Qwen3-8B (config.json of Qwen/Qwen3-8B): 36 layers, hidden 4096, intermediate 12288,
#: 32 query heads, 8 KV heads, head_dim 128, vocab 151,936, untied embeddings; ~8.2B params.
QWEN3_8B = ModelShape("qwen3-8b", layers=36, hidden=4096, ffn=12288, heads=32, kv_heads=8, head_dim=128, vocab=151_936)

#: Qwen3-30B-A3B (config.json of Qwen/Qwen3-30B-A3B): 48 layers, hidden 2048, 32 query heads,
#: 4 KV heads, head_dim 128 (q_dim 4096 > hidden), 128 experts with 8 active, expert
#: (moe_intermediate) size 768, no shared expert, vocab 151,936, untied embeddings;
#: ~30.5B total and ~3.3B active params. ``ffn`` (6144) is the unused dense size.
QWEN3_30B_A3B = ModelShape(
    "qwen3-30b-a3b", layers=48, hidden=2048, ffn=6144, heads=32, kv_heads=4, head_dim=128, vocab=151_936,
    experts=128, active_experts=8, moe_ffn=768,
)

PRESETS: dict[str, ModelShape] = {m.name: m for m in (QWEN3_8B, QWEN3_30B_A3B)}


@dataclass(frozen=True)
class Parallelism:
    """Megatron-style parallel layout over ``gpus`` GPUs (DP is what is left)."""

    gpus: int
    tp: int = 1
    cp: int = 1
    ep: int = 1
    etp: int = 1
    pp: int = 1

    def __post_init__(self):
        for k in ("gpus", "tp", "cp", "ep", "etp", "pp"):
            if getattr(self, k) < 1:
                raise ValueError(f"{k} must be >= 1")
        if self.gpus % (self.tp * self.cp * self.pp):
            raise ValueError(f"gpus={self.gpus} not divisible by tp*cp*pp={self.tp * self.cp * self.pp}")
        if self.gpus % (self.ep * self.etp * self.pp):
            raise ValueError(f"gpus={self.gpus} not divisible by ep*etp*pp={self.ep * self.etp * self.pp}")

    @property
    def dp(self) -> int:
        return self.gpus // (self.tp * self.cp * self.pp)

    @property
    def expert_dp(self) -> int:
        return self.gpus // (self.ep * self.etp * self.pp)

    def label(self) -> str:
        s = f"TP{self.tp} CP{self.cp}"
        if self.ep > 1 or self.etp > 1:
            s += f" EP{self.ep} ETP{self.etp}"
        if self.pp > 1:
            s += f" PP{self.pp}"
        return s + f" DP{self.dp} ({self.gpus} GPUs)"


@dataclass(frozen=True)
class Hardware:
    """Per-GPU peak and link bandwidths (bytes/s, one direction)."""

    name: str = "H100-SXM"
    peak_flops: float = 989e12  # dense BF16
    nvlink_bw: float = 450e9  # NVLink 4: 900 GB/s bidirectional
    network_bw: float = 50e9  # one 400 Gb/s NIC per GPU
    gpus_per_node: int = 8
    #: Fraction of the data-parallel gradient/parameter traffic hidden behind backward/forward
    #: compute (Megatron's overlapped grad reduce and param gather).
    dp_overlap: float = 0.9


H100 = Hardware()


@dataclass(frozen=True)
class Efficiency:
    """Achieved fractions of peak (GEMMs, attention), a multiplier on nominal comm time and the
    seconds each packed document costs on each data-parallel rank."""

    linear: float = 0.35
    attention: float = 0.35
    comm: float = 1.0
    doc_overhead: float = 0.0


@dataclass(frozen=True)
class Stage:
    """One training stage: ``steps`` optimizer steps, each of ``tokens_per_step`` real tokens.

    Attributes:
        context: packed sequence length (bin capacity) of the stage.
        sum_sq_per_step: sum over attention sequences of ``len^2`` per step; None means every
            sample is full length (``tokens_per_step * context``).
        utilisation: real tokens / computed tokens (packing padding); GEMMs run on
            ``tokens_per_step / utilisation`` tokens.
        global_batch: samples per step (informational).
    """

    name: str
    context: int
    parallel: Parallelism
    steps: float
    tokens_per_step: float
    sum_sq_per_step: float | None = None
    utilisation: float = 1.0
    global_batch: int | None = None

    @classmethod
    def from_lengths(
        cls,
        name: str,
        lengths: Sequence[int] | np.ndarray,
        context: int,
        parallel: Parallelism,
        *,
        global_batch: int = 2048,
        epochs: float = 2.0,
        bins: Sequence[Sequence[int]] | None = None,
        attention: str = "per_sample",
        utilisation: float | None = None,
    ) -> "Stage":
        """Stage from the trace lengths it trains on, ``global_batch`` samples per step.

        ``attention="per_sample"`` (varlen / block-diagonal attention) sums ``len^2`` over the
        samples; ``"per_bin"`` sums the squared packed-sequence loads of ``bins`` (dense causal
        attention over each packed sequence, i.e. no per-sample mask) and needs ``bins``.
        ``utilisation`` defaults to that of ``bins`` if given, else 1.
        """
        x = np.asarray(lengths, dtype=np.float64)
        if x.size == 0:
            raise ValueError(f"stage {name!r} has no traces")
        steps = epochs * x.size / global_batch
        if bins is not None:
            from nmframe.packing import bin_loads

            loads = bin_loads(bins, np.asarray(lengths, dtype=np.int64)).astype(np.float64)
            if utilisation is None:
                utilisation = float(loads.sum() / (len(bins) * context))
        if attention == "per_sample":
            sum_sq = float((x**2).mean() * global_batch)
        elif attention == "per_bin":
            if bins is None:
                raise ValueError("attention='per_bin' needs bins")
            # Dense causal attention over each packed sequence, per sample of the step.
            sum_sq = float((loads**2).sum() / x.size * global_batch)
        else:
            raise ValueError(f"attention must be 'per_sample' or 'per_bin', got {attention!r}")
        return cls(
            name=name,
            context=int(context),
            parallel=parallel,
            steps=float(steps),
            tokens_per_step=float(x.mean() * global_batch),
            sum_sq_per_step=sum_sq,
            utilisation=1.0 if utilisation is None else float(utilisation),
            global_batch=global_batch,
        )

    def with_parallel(self, parallel: Parallelism, name: str | None = None) -> "Stage":
        return replace(self, parallel=parallel, name=name or self.name)


@dataclass(frozen=True)
class StepBreakdown:
    """Seconds per step, by term (comm terms already scaled by ``c_comm``)."""

    linear_s: float
    attn_s: float
    comm_s: dict[str, float]
    bubble: float
    total_s: float
    doc_s: float = 0.0


@dataclass(frozen=True)
class StageEstimate:
    stage: Stage
    step: StepBreakdown

    @property
    def seconds(self) -> float:
        return self.step.total_s * self.stage.steps

    @property
    def gpu_hours(self) -> float:
        return self.seconds * self.stage.parallel.gpus / 3600.0


@dataclass(frozen=True)
class ScheduleEstimate:
    stages: list[StageEstimate] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.stages)

    @property
    def gpu_hours(self) -> float:
        return sum(s.gpu_hours for s in self.stages)

    @property
    def steps(self) -> float:
        return sum(s.stage.steps for s in self.stages)

    def table(self) -> str:
        lines = [f"{'stage':<14}{'parallelism':<34}{'steps':>8}{'s/step':>9}{'hours':>9}{'GPU-h':>11}"]
        for s in self.stages:
            lines.append(
                f"{s.stage.name:<14}{s.stage.parallel.label():<34}{s.stage.steps:>8.0f}"
                f"{s.step.total_s:>9.2f}{s.seconds / 3600:>9.1f}{s.gpu_hours:>11,.0f}"
            )
        lines.append(f"{'total':<48}{self.steps:>8.0f}{'':>9}{self.seconds / 3600:>9.1f}{self.gpu_hours:>11,.0f}")
        return "\n".join(lines)


def _span_bw(span: int, hw: Hardware) -> float:
    return hw.nvlink_bw if span <= hw.gpus_per_node else hw.network_bw


@dataclass(frozen=True)
class CostModel:
    """Step-time model of one model shape on one kind of GPU."""

    model: ModelShape
    hardware: Hardware = H100
    efficiency: Efficiency = Efficiency()

    # -- the three features the step time is linear in -------------------------------------
    def features(self, stage: Stage) -> tuple[float, float, float, dict[str, float], float]:
        """(linear s at 100%, attention s at 100%, comm s at nominal bw, comm by dim, bubble)."""
        m, p, hw = self.model, stage.parallel, self.hardware
        g = p.gpus
        computed_tokens = stage.tokens_per_step / max(stage.utilisation, 1e-9)
        sum_sq = stage.sum_sq_per_step
        if sum_sq is None:
            sum_sq = stage.tokens_per_step * stage.context
        f_lin = 3.0 * computed_tokens * m.linear_flops_per_token()
        f_att = 3.0 * m.attn_flops(sum_sq)
        lin_s = f_lin / (g * hw.peak_flops)
        att_s = f_att / (g * hw.peak_flops)

        t_cp = computed_tokens / (p.dp * p.cp)  # tokens per context-parallel rank
        t_gpu = t_cp / p.tp  # tokens per GPU under sequence parallelism
        comm: dict[str, float] = {}
        dense_layers = 0 if m.is_moe else m.layers
        tp_bytes = (4 * m.layers + 4 * dense_layers) * (p.tp - 1) / p.tp * t_cp * m.hidden * BYTES_ACT
        comm["tp"] = tp_bytes / _span_bw(p.tp, hw)
        kv_per_gpu = m.head_dim * max(1, m.kv_heads // p.tp)
        cp_bytes = m.layers * 3 * (p.cp - 1) * t_cp * 2 * kv_per_gpu * BYTES_ACT
        comm["cp"] = cp_bytes / _span_bw(p.tp * p.cp, hw)
        if m.is_moe:
            ep_bytes = m.layers * 4 * (p.ep - 1) / p.ep * t_gpu * m.active_experts * m.hidden * BYTES_ACT
            comm["ep"] = ep_bytes / _span_bw(p.etp * p.ep, hw)
        else:
            comm["ep"] = 0.0
        dense_local = (m.params - m.expert_params) / (p.tp * p.pp)
        d_dense = p.dp * p.cp
        dp_bytes = 2 * (d_dense - 1) / d_dense * dense_local * BYTES_DP
        dp_s = dp_bytes / _span_bw(p.gpus if d_dense > 1 else 1, hw)
        if m.is_moe:
            exp_local = m.expert_params / (p.ep * p.etp * p.pp)
            d_exp = p.expert_dp
            exp_bytes = 2 * (d_exp - 1) / d_exp * exp_local * BYTES_DP
            dp_s += exp_bytes / _span_bw(p.gpus if d_exp > 1 else 1, hw)
        comm["dp"] = dp_s * (1.0 - hw.dp_overlap)
        microbatches = max(1.0, computed_tokens / (stage.context * p.dp))
        bubble = 1.0 + (p.pp - 1) / microbatches
        return lin_s, att_s, sum(comm.values()), comm, bubble

    @staticmethod
    def docs_per_rank(stage: Stage) -> float:
        """Documents (samples) each data-parallel rank processes per step (full-length samples
        when the stage does not say its batch)."""
        docs = stage.global_batch if stage.global_batch else stage.tokens_per_step / stage.context
        return float(docs) / stage.parallel.dp

    def terms(self, stage: Stage) -> tuple[np.ndarray, float]:
        """The four features the step time is linear in (GEMM s at peak, attention s at peak,
        comm s at nominal bandwidth, documents per DP rank) and the pipeline bubble factor."""
        lin_s, att_s, comm_s, _, bubble = self.features(stage)
        return np.array([lin_s, att_s, comm_s, self.docs_per_rank(stage)]), bubble

    def step_time(self, stage: Stage) -> StepBreakdown:
        e = self.efficiency
        lin_s, att_s, _, comm, bubble = self.features(stage)
        lin = lin_s / e.linear
        att = att_s / e.attention
        comm_scaled = {k: v * e.comm for k, v in comm.items()}
        doc = e.doc_overhead * self.docs_per_rank(stage)
        total = (lin + att + sum(comm_scaled.values()) + doc) * bubble
        return StepBreakdown(linear_s=lin, attn_s=att, comm_s=comm_scaled, bubble=bubble, total_s=total,
                             doc_s=doc)

    def schedule(self, stages: Sequence[Stage]) -> ScheduleEstimate:
        return ScheduleEstimate([StageEstimate(s, self.step_time(s)) for s in stages])

    def mfu(self, stage: Stage) -> float:
        """Model FLOPs utilisation implied by the predicted step time (useful FLOPs only)."""
        lin_s, att_s, *_ = self.features(replace(stage, utilisation=1.0))
        return (lin_s + att_s) / self.step_time(stage).total_s

    def calibrate(self, measured: Sequence[tuple[Stage, float]], fit: str = "auto") -> "CostModel":
        """A copy with efficiency constants fitted to measured ``(stage, seconds per step)``."""
        return replace(self, efficiency=calibrate(measured, self, fit=fit))


#: The columns each fit mode solves for: 0 GEMM (1/e), 1 attention (1/e), 2 comm multiplier,
#: 3 per-document seconds; "compute" is GEMM and attention tied to one efficiency.
_FIT_COLUMNS = {"all": (0, 1, 2, 3), "three": (0, 1, 2), "tied": ("compute", 2), "compute": ("compute",)}


@dataclass(frozen=True)
class FitResult:
    """Fitted constants, how many measurements they came from and the relative residuals
    (predicted / measured - 1, one per measurement, in input order)."""

    efficiency: Efficiency
    mode: str
    points: int
    residuals: tuple[float, ...]
    at_bound: tuple[str, ...] = ()

    @property
    def rms(self) -> float:
        return float(np.sqrt(np.mean(np.square(self.residuals)))) if self.residuals else 0.0

    @property
    def worst(self) -> float:
        return float(np.max(np.abs(self.residuals))) if self.residuals else 0.0


def _bounded_lstsq(design: np.ndarray, y: np.ndarray, lower: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """min ||design @ x - y|| subject to ``x >= lower`` (a handful of columns: every set of
    columns held at their bound is tried and the best feasible solution kept, which is the exact
    optimum of this convex problem)."""
    n = design.shape[1]
    scale = np.abs(design).max(axis=0)
    scale[scale == 0] = 1.0
    a = design / scale
    best = None
    for mask in range(1 << n):
        held = [k for k in range(n) if mask >> k & 1]
        free = [k for k in range(n) if not mask >> k & 1]
        x = np.array(lower, dtype=np.float64)
        rhs = y - design[:, held] @ x[held] if held else y.copy()
        if free:
            coef, *_ = np.linalg.lstsq(a[:, free], rhs, rcond=None)
            x[free] = coef / scale[free]
        if np.any(x < lower - 1e-12 * np.maximum(1.0, np.abs(lower))):
            continue
        r = float(np.sum((design @ x - y) ** 2))
        if best is None or r < best[0] - 1e-15 * max(1.0, r):
            best = (r, x, held)
    return best[1], best[2]


def fit_efficiency(
    measured: Sequence[tuple[Stage, float]], model: CostModel | ModelShape, *, fit: str = "auto"
) -> FitResult:
    """Fit the constants to measured ``(stage, seconds per step)`` pairs.

    The step time is linear in ``(1/e_linear, 1/e_attn, c_comm, d_doc)`` (divided by the
    pipeline bubble factor). Each measurement's row is divided by its step time, so the fit
    minimises *relative* errors (a 30 s stage counts as much as a 500 s one). Bounds: an
    efficiency is at most 1 (``1/e >= 1``), ``c_comm`` and ``d_doc`` are not negative; a
    constant that ends at its bound is named in :attr:`FitResult.at_bound`.

    Args:
        fit: ``"all"`` (the four constants, >= 4 measurements), ``"three"`` (GEMM, attention,
            comm; the model's ``d_doc`` kept; >= 3), ``"tied"`` (one compute efficiency shared
            by GEMMs and attention, plus comm; >= 2), ``"compute"`` (one compute efficiency), or
            ``"auto"`` (the most the measurements allow).

    Raises:
        ValueError: no measurements, too few for ``fit``, a measurement that is not a positive
            number of seconds, or an unknown ``fit``.
    """
    cm = model if isinstance(model, CostModel) else CostModel(model)
    if not measured:
        raise ValueError("need at least one measurement")
    rows, y = [], []
    for stage, secs in measured:
        if not float(secs) > 0:
            raise ValueError(f"stage {stage.name!r}: measured step time must be > 0 s, got {secs!r}")
        f, bubble = cm.terms(stage)
        rows.append(f)
        y.append(float(secs) / bubble)
    a = np.asarray(rows, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = len(y)
    if fit == "auto":
        fit = "all" if n >= 4 else {3: "three", 2: "tied", 1: "compute"}[n]
    if fit not in _FIT_COLUMNS:
        raise ValueError(f"unknown fit {fit!r} (allowed: auto, {', '.join(_FIT_COLUMNS)})")
    cols = _FIT_COLUMNS[fit]
    if n < len(cols):
        raise ValueError(f"fit={fit!r} needs >= {len(cols)} measurements, got {n}")
    e = cm.efficiency
    kept = np.array([1.0 / e.linear, 1.0 / e.attention, e.comm, e.doc_overhead])
    names = {0: "linear", 1: "attention", 2: "comm", 3: "doc_overhead", "compute": "compute"}
    lower_of = {0: 1.0, 1: 1.0, 2: 0.0, 3: 0.0, "compute": 1.0}
    design = np.stack([a[:, 0] + a[:, 1] if c == "compute" else a[:, c] for c in cols], axis=1)
    fixed = [k for k in range(4) if k not in cols and not (k in (0, 1) and "compute" in cols)]
    target = y - a[:, fixed] @ kept[fixed] if fixed else y
    w = 1.0 / y  # relative errors
    coef, held = _bounded_lstsq(design * w[:, None], target * w, np.array([lower_of[c] for c in cols]))
    x = kept.copy()
    for c, v in zip(cols, coef):
        if c == "compute":
            x[0] = x[1] = v
        else:
            x[c] = v
    eff = Efficiency(linear=float(1.0 / x[0]), attention=float(1.0 / x[1]), comm=float(x[2]),
                     doc_overhead=float(x[3]))
    resid = tuple(float(v) for v in (a @ x) / y - 1.0)
    return FitResult(eff, fit, n, resid, tuple(names[cols[k]] for k in held))


def calibrate(
    measured: Sequence[tuple[Stage, float]], model: CostModel | ModelShape, *, fit: str = "auto"
) -> Efficiency:
    """The constants :func:`fit_efficiency` fits (without the fit's residuals)."""
    return fit_efficiency(measured, model, fit=fit).efficiency


def gpu_hours(seconds: float, gpus: int) -> float:
    return seconds * gpus / 3600.0

