"""Dense block-diagonal causal masks for packed sequences.

GPU trainers give ``cu_seqlens`` to a varlen attention kernel. CPU trainers (tests, small-scale
runs) have no such kernel, so they need the equivalent dense mask: token ``q`` may attend to
token ``k`` iff both lie in the same ``cu_seqlens`` segment and ``k <= q``. This is ``O(L^2)``
memory and only meant for short sequences.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["segment_ids", "block_causal_mask", "hf_attention_mask"]


def _cu(cu_seqlens) -> torch.Tensor:
    cu = torch.as_tensor(np.asarray(cu_seqlens) if not isinstance(cu_seqlens, torch.Tensor) else cu_seqlens)
    cu = cu.to(torch.long).flatten()
    if cu.numel() < 1 or int(cu[0]) != 0:
        raise ValueError("cu_seqlens must start at 0")
    if cu.numel() > 1 and bool((cu[1:] < cu[:-1]).any()):
        raise ValueError("cu_seqlens must be non-decreasing")
    return cu


def segment_ids(cu_seqlens, length: int | None = None, device=None) -> torch.Tensor:
    """Segment index of every position (int64 ``[L]``); positions past ``cu_seqlens[-1]`` get -1."""
    cu = _cu(cu_seqlens)
    total = int(cu[-1])
    length = total if length is None else int(length)
    pos = torch.arange(length)
    seg = torch.searchsorted(cu[1:], pos, right=True)
    seg = torch.where(pos < total, seg, torch.full_like(seg, -1))
    return seg.to(device) if device is not None else seg


def block_causal_mask(cu_seqlens, length: int | None = None, device=None) -> torch.Tensor:
    """Boolean ``[L, L]`` mask, True where query row ``q`` may attend to key column ``k``.

    ``mask[q, k]`` is True iff ``k <= q`` and both are in the same segment. Positions beyond
    ``cu_seqlens[-1]`` (when ``length`` is larger) attend only to themselves, so their softmax
    stays finite; they must carry no loss.
    """
    seg = segment_ids(cu_seqlens, length)
    n = seg.shape[0]
    idx = torch.arange(n)
    causal = idx[None, :] <= idx[:, None]
    same = seg[:, None] == seg[None, :]
    outside = seg < 0
    same = same & ~(outside[:, None] | outside[None, :])
    mask = (causal & same) | torch.eye(n, dtype=torch.bool)
    return mask.to(device) if device is not None else mask


def hf_attention_mask(cu_seqlens, attn_implementation: str, dtype: torch.dtype, length: int | None = None, device=None):
    """The 4D ``[1, 1, L, L]`` mask a Hugging Face model accepts as a custom ``attention_mask``.

    transformers returns a 4D mask unchanged, and the attention functions then use it directly:
    ``sdpa`` takes a boolean mask (True = attend); ``eager`` *adds* the mask to the scores, so it
    needs 0 where allowed and the dtype's most negative value elsewhere.
    """
    mask = block_causal_mask(cu_seqlens, length, device=device)[None, None]
    if attn_implementation == "sdpa":
        return mask
    if attn_implementation == "eager":
        zero = torch.zeros((), dtype=dtype, device=mask.device)
        return torch.where(mask, zero, torch.finfo(dtype).min)
    raise ValueError(
        f"no dense mask for attn_implementation={attn_implementation!r}; "
        "varlen kernels (flash) take position_ids / cu_seqlens instead"
    )
