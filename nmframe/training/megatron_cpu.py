"""What Megatron-Core needs to run on a CPU (tests and CI of the megatron backend's wiring).

Megatron-Core imports on CPU, but a few places assume CUDA: ``torch.cuda.current_device()``
names the device of new buffers, the RNG tracker forks CUDA generators, and the local
(non-Transformer-Engine) core attention builds its causal mask on ``"cuda"`` and rejects packed
(THD) sequences. :func:`enable_cpu` patches the first (``current_device`` answers ``"cpu"``,
``synchronize`` is a no-op for dist_checkpointing's writer) and installs the inference RNG tracker (no CUDA generators; dropout is off in this recipe).
:class:`CpuVarlenAttention` is a core-attention module for the local layer spec that takes
``PackedSeqParams`` like TE's varlen kernels do: in THD format it attends causally within each
``cu_seqlens`` segment (a dense block-diagonal mask; O(T^2), small sequences only), so packed
samples stay independent and Megatron's own THD rotary path restarts positions per sample.

Across several gloo ranks, the MoE alltoall token dispatcher needs three more things:
a stand-in for CUDA streams (it moves split sizes to the host on a side stream), the name
``te_general_gemm`` (undefined without Transformer Engine; ``None`` selects the torch router GEMM)
and split sizes that gloo's ``all_to_all_single`` accepts (plain lists, where the GPU path hands
over host tensors). :class:`CpuRMSNorm` replaces the local spec's torch norm, which refuses
sequence parallelism: Megatron requires sequence parallelism for MoE with TP > 1, and an RMSNorm
is per token, so it only needs its weight gradient summed over the TP group (the ``sequence_parallel``
flag on the weight tells the gradient sync, as Transformer Engine's norms do).
"""
from __future__ import annotations

import math

import torch

from megatron.core.transformer.module import MegatronModule


class _HostStream:
    """What the MoE dispatcher asks of a CUDA stream, on a host where every op is synchronous.
    A class, not a function, because libraries annotate with ``torch.cuda.Stream | None``."""

    def __init__(self, *args, **kwargs):
        pass

    def wait_stream(self, other) -> None:
        pass

    def record_event(self, event=None):
        return event if event is not None else _HostEvent()

    def synchronize(self) -> None:
        pass

    def __eq__(self, other) -> bool:
        return isinstance(other, _HostStream)

    def __hash__(self) -> int:
        return 0


class _HostEvent:
    def synchronize(self) -> None:
        pass

    def wait(self, stream=None) -> None:
        pass


class _StreamContext:
    def __init__(self, stream=None):
        self.stream = stream

    def __enter__(self):
        return self.stream

    def __exit__(self, *exc) -> bool:
        return False


def _as_split_list(sizes):
    if sizes is None or isinstance(sizes, list):
        return sizes
    return [int(x) for x in (sizes.tolist() if hasattr(sizes, "tolist") else sizes)]


def _patch_all_to_all() -> None:
    import torch.distributed as dist

    if getattr(dist.all_to_all_single, "_nmframe_lists", False):
        return
    original = dist.all_to_all_single

    def all_to_all_single(output, input, output_split_sizes=None, input_split_sizes=None, group=None,
                          async_op=False):
        return original(output, input, output_split_sizes=_as_split_list(output_split_sizes),
                        input_split_sizes=_as_split_list(input_split_sizes), group=group, async_op=async_op)

    all_to_all_single._nmframe_lists = True  # type: ignore[attr-defined]
    dist.all_to_all_single = all_to_all_single


def enable_cpu() -> None:
    """Make Megatron-Core's device queries, RNG tracker and MoE dispatcher work without CUDA (idempotent)."""
    torch.cuda.current_device = lambda: "cpu"  # type: ignore[assignment]
    torch.cuda.synchronize = lambda *args, **kwargs: None  # dist_checkpointing syncs before writing
    torch.cuda.Stream = _HostStream  # type: ignore[assignment,misc]
    torch.cuda.current_stream = lambda *args, **kwargs: _HostStream()  # type: ignore[assignment]
    torch.cuda.stream = _StreamContext  # type: ignore[assignment]
    from megatron.core.tensor_parallel.random import initialize_rng_tracker
    from megatron.core.transformer.moe import moe_utils

    if not hasattr(moe_utils, "te_general_gemm"):
        moe_utils.te_general_gemm = None
    _patch_all_to_all()
    initialize_rng_tracker(inference_rng_tracker=True)


class CpuRMSNorm(torch.nn.RMSNorm):
    """torch RMSNorm built from a Megatron config, usable under sequence parallelism.

    Its weight carries ``sequence_parallel`` (as Megatron's own norms do) so that the gradient sync
    sums its gradient over the TP group: under SP each TP rank normalises its own slice of tokens.
    """

    def __init__(self, config, hidden_size: int, eps: float = 1e-6, **kwargs):
        super().__init__(normalized_shape=hidden_size, eps=eps)
        self.weight.sequence_parallel = bool(config.sequence_parallel)


def _segment_mask(cu_seqlens: torch.Tensor, total: int) -> torch.Tensor:
    """True where query q may attend key k: same segment and k <= q."""
    cu = cu_seqlens.to(torch.long).flatten().cpu()
    pos = torch.arange(total)
    seg = torch.searchsorted(cu[1:], pos, right=True)
    return (seg[:, None] == seg[None, :]) & (pos[None, :] <= pos[:, None])


class CpuVarlenAttention(MegatronModule):
    """Causal softmax attention in plain torch, for sbhd tensors or packed THD with cu_seqlens."""

    def __init__(self, config, layer_number: int, attn_mask_type=None, attention_type: str = "self",
                 attention_dropout: float | None = None, softmax_scale: float | None = None, cp_comm_type=None,
                 pg_collection=None, **kwargs):
        super().__init__(config=config)
        self.softmax_scale = softmax_scale or 1.0 / math.sqrt(config.kv_channels)

    @staticmethod
    def _expand(kv: torch.Tensor, heads: int) -> torch.Tensor:
        groups = kv.shape[-2]
        return kv.repeat_interleave(heads // groups, dim=-2) if groups != heads else kv

    def forward(self, query, key, value, attention_mask=None, attn_mask_type=None, attention_bias=None,
                packed_seq_params=None):
        heads = query.shape[-2]
        key, value = self._expand(key, heads), self._expand(value, heads)
        if packed_seq_params is not None and packed_seq_params.qkv_format == "thd":
            t = query.shape[0]  # [t, heads, dim]
            cu = packed_seq_params.cu_seqlens_q_padded
            cu = packed_seq_params.cu_seqlens_q if cu is None else cu
            mask = _segment_mask(cu, t).to(query.device)
            q, k, v = (x.permute(1, 0, 2)[None] for x in (query, key, value))  # [1, h, t, d]
            out = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=self.softmax_scale)
            return out[0].permute(1, 0, 2).reshape(t, -1)
        s, b = query.shape[0], query.shape[1]  # [s, b, heads, dim]
        q, k, v = (x.permute(1, 2, 0, 3) for x in (query, key, value))  # [b, h, s, d]
        if attention_mask is not None:
            allowed = ~attention_mask.to(torch.bool)  # Megatron masks are True where attention is blocked
        else:
            allowed = torch.ones(s, s, dtype=torch.bool, device=query.device).tril()
        out = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=allowed, scale=self.softmax_scale)
        return out.permute(2, 0, 1, 3).reshape(s, b, -1)
