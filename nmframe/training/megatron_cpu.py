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
"""
from __future__ import annotations

import math

import torch

from megatron.core.transformer.module import MegatronModule


def enable_cpu() -> None:
    """Make Megatron-Core's device queries and RNG tracker work without CUDA (idempotent)."""
    torch.cuda.current_device = lambda: "cpu"  # type: ignore[assignment]
    torch.cuda.synchronize = lambda *args, **kwargs: None  # dist_checkpointing syncs before writing
    from megatron.core.tensor_parallel.random import initialize_rng_tracker

    initialize_rng_tracker(inference_rng_tracker=True)


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
