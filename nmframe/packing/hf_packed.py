"""Run a Hugging Face causal LM on a packed sequence and return the summed token loss.

Lets a CPU trainer (and the tests) train on packed bins with exactly the loss the samples would
have unpacked. Two ways to keep the samples independent, both checked against the unpacked
loss in the tests:

* ``mode="mask"``: a custom 4D block-diagonal causal mask (transformers returns a 4D
  ``attention_mask`` unchanged; boolean for ``sdpa``, additive float for ``eager``) plus
  ``position_ids`` restarting at 0 per sample.
* ``mode="position_ids"``: no mask, only the restarting ``position_ids``. transformers (>= 4.56,
  ``masking_utils.find_packed_sequence_indices``) detects the restarts and builds the
  block-diagonal mask itself when ``attention_mask`` is None and there is no cache. This is the
  same input a flash-attention varlen path uses on GPU.

The loss is a *sum* over target tokens (not a mean) so that losses of several bins, or of
several data-parallel ranks, add up and are divided once by the global target count.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .batch import IGNORE_INDEX, PackedBatch
from .masks import hf_attention_mask

__all__ = ["packed_loss", "sample_loss", "padded_loss", "summed_ce"]


def summed_ce(logits: torch.Tensor, shift_labels: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Sum of next-token cross entropies; ``shift_labels[..., t]`` is the target of position t."""
    flat = shift_labels.reshape(-1)
    n = int((flat != IGNORE_INDEX).sum())
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), flat, ignore_index=IGNORE_INDEX, reduction="sum")
    return loss, n


def _attn_impl(model) -> str:
    return getattr(model.config, "_attn_implementation", None) or "eager"


def packed_loss(
    model, batch: PackedBatch | Sequence[PackedBatch], *, mode: str = "mask"
) -> tuple[torch.Tensor, int]:
    """Summed loss and number of target tokens of one packed sequence, or of several.

    Args:
        model: a transformers ``*ForCausalLM`` (e.g. Qwen3) on any device.
        batch: output of :func:`nmframe.packing.packed_batch`, or a list of them of equal
            length (pad them to a common ``pad_multiple``), run as one ``[B, L]`` batch.
        mode: ``"mask"`` (explicit 4D block-diagonal mask) or ``"position_ids"`` (let
            transformers infer the sample boundaries from the position restarts).
    """
    batches = [batch] if isinstance(batch, PackedBatch) else list(batch)
    if not batches:
        raise ValueError("no packed sequences")
    if len({b.length for b in batches}) != 1:
        raise ValueError(f"packed sequences differ in length: {sorted({b.length for b in batches})}")
    device = next(model.parameters()).device
    ts = [b.to_torch(device) for b in batches]
    input_ids = torch.cat([t["input_ids"] for t in ts])
    position_ids = torch.cat([t["position_ids"] for t in ts])
    shift_labels = torch.cat([t["shift_labels"] for t in ts])
    kwargs = {"input_ids": input_ids, "position_ids": position_ids, "use_cache": False}
    if mode == "mask":
        dtype = next(model.parameters()).dtype
        impl = _attn_impl(model)
        kwargs["attention_mask"] = torch.cat(
            [hf_attention_mask(b.cu_seqlens, impl, dtype, device=device) for b in batches]
        )
    elif mode != "position_ids":
        raise ValueError(f"mode must be 'mask' or 'position_ids', got {mode!r}")
    logits = model(**kwargs).logits
    return summed_ce(logits, shift_labels)


def _shifted(ids: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    lab = ids.copy() if mask is None else np.where(np.asarray(mask).astype(bool), ids, IGNORE_INDEX)
    shl = np.full(ids.shape[0], IGNORE_INDEX, dtype=np.int64)
    shl[:-1] = lab[1:]
    return shl


def sample_loss(model, input_ids: Sequence[int], loss_mask: Sequence[int] | None = None) -> tuple[torch.Tensor, int]:
    """Summed loss of one sample run on its own (the reference the packed loss must equal)."""
    device = next(model.parameters()).device
    ids = np.asarray(input_ids, dtype=np.int64)
    shl = torch.as_tensor(_shifted(ids, loss_mask), device=device)[None]
    logits = model(input_ids=torch.as_tensor(ids, device=device)[None], use_cache=False).logits
    return summed_ce(logits, shl)


def padded_loss(
    model,
    samples: Sequence[Sequence[int]],
    loss_masks: Sequence[Sequence[int]] | None = None,
    *,
    pad_to: int | None = None,
    pad_token_id: int = 0,
) -> tuple[torch.Tensor, int]:
    """Summed loss of a right-padded batch ``[B, pad_to]`` (the unpacked baseline).

    ``pad_to`` defaults to the longest sample; padding is excluded by a 2D attention mask and
    carries no loss.
    """
    device = next(model.parameters()).device
    width = max(len(s) for s in samples) if pad_to is None else int(pad_to)
    b = len(samples)
    ids = np.full((b, width), pad_token_id, dtype=np.int64)
    att = np.zeros((b, width), dtype=np.int64)
    shl = np.full((b, width), IGNORE_INDEX, dtype=np.int64)
    for i, s in enumerate(samples):
        s = np.asarray(s, dtype=np.int64)
        if s.shape[0] > width:
            raise ValueError(f"sample {i} has {s.shape[0]} tokens > pad_to {width}")
        ids[i, : s.shape[0]] = s
        att[i, : s.shape[0]] = 1
        shl[i, : s.shape[0]] = _shifted(s, None if loss_masks is None else loss_masks[i])
    logits = model(
        input_ids=torch.as_tensor(ids, device=device),
        attention_mask=torch.as_tensor(att, device=device),
        use_cache=False,
    ).logits
    return summed_ce(logits, torch.as_tensor(shl, device=device))
