"""Build one packed training sequence from the samples of one bin.

Packing is only correct if the packed samples stay independent: attention must not cross sample
boundaries and positions must restart at 0 for every sample (rotary embeddings see positions).
A packed sequence therefore carries, besides the concatenated tokens,

* ``position_ids`` restarting at 0 at every sample,
* ``cu_seqlens`` (int32, ``[0, end_0, end_1, ..., L]``) for varlen attention kernels,
* ``labels`` with -100 wherever no loss is taken, so no token is ever scored against the next
  sample's first token.

Its length is rounded up to ``pad_multiple`` (default ``lcm(128, 2 * cp)``): the recipe rounds
packed lengths to x128, and context parallelism splits each sequence into ``2 * CP`` chunks (for
load balance with causal attention), so the length must be divisible by ``2 * CP``. The padding
is appended as its own segment in ``cu_seqlens``: pad token ids, positions restarting at 0,
labels -100. Being last and its own segment, no real token attends to it and it adds no loss.

Varlen context-parallel kernels additionally want every *sample* divisible by ``2 * CP``:
``sample_multiple`` pads each sample on its own (padding appended inside the sample's segment,
positions continuing, labels -100; real tokens never attend to it because it comes after them).
Pack with ``pack(..., multiple=sample_multiple)`` so the padded samples still fit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

IGNORE_INDEX = -100

__all__ = ["IGNORE_INDEX", "PackedBatch", "packed_batch", "default_pad_multiple"]


def default_pad_multiple(cp: int = 1, base: int = 128) -> int:
    """``lcm(base, 2 * cp)``: x128 rounding plus the context-parallel divisibility rule."""
    if cp < 1:
        raise ValueError(f"cp must be >= 1, got {cp}")
    return math.lcm(int(base), 2 * int(cp))


@dataclass(frozen=True)
class PackedBatch:
    """One packed sequence (no batch dimension; ``to_torch`` adds it).

    Attributes:
        input_ids: int64 ``[L]`` concatenated token ids, then padding.
        labels: int64 ``[L]`` in the Hugging Face convention (the model shifts: ``labels[t]`` is
            the target of position ``t - 1``). -100 at each sample's first token (it has no
            prediction within its sample), on tokens whose loss mask is off, and on all padding.
        shift_labels: int64 ``[L]`` already shifted (Megatron convention): ``shift_labels[t]`` is
            the target of position ``t``; -100 at each sample's last token and on padding.
        position_ids: int64 ``[L]`` restarting at 0 for every segment (padding segment included).
        cu_seqlens: int32 ``[S + 1]`` segment boundaries, ``cu_seqlens[0] == 0`` and
            ``cu_seqlens[-1] == L``; the trailing padding (if any) is the last segment.
        seq_lens: int32 ``[num_samples]`` real (unpadded) sample lengths.
        num_samples: number of real samples.
        pad_len: length of the trailing padding segment (0 if none).
    """

    input_ids: np.ndarray
    labels: np.ndarray
    shift_labels: np.ndarray
    position_ids: np.ndarray
    cu_seqlens: np.ndarray
    seq_lens: np.ndarray
    num_samples: int
    pad_len: int

    @property
    def length(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def num_loss_tokens(self) -> int:
        return int(np.count_nonzero(self.shift_labels != IGNORE_INDEX))

    @property
    def max_seqlen(self) -> int:
        return int(np.diff(self.cu_seqlens).max()) if self.cu_seqlens.size > 1 else 0

    def to_torch(self, device=None) -> dict:
        """Tensors with a leading batch dimension of 1 (``cu_seqlens`` stays 1-D int32)."""
        import torch

        def t(a, dtype):
            return torch.as_tensor(a, dtype=dtype, device=device)

        return {
            "input_ids": t(self.input_ids, torch.long)[None],
            "labels": t(self.labels, torch.long)[None],
            "shift_labels": t(self.shift_labels, torch.long)[None],
            "position_ids": t(self.position_ids, torch.long)[None],
            "cu_seqlens": t(self.cu_seqlens, torch.int32),
        }


def packed_batch(
    samples: Sequence[Sequence[int] | np.ndarray],
    loss_masks: Sequence[Sequence[int] | np.ndarray] | None = None,
    *,
    cp: int = 1,
    pad_multiple: int | None = None,
    sample_multiple: int = 1,
    pad_token_id: int = 0,
    capacity: int | None = None,
) -> PackedBatch:
    """Concatenate the samples of one bin into a :class:`PackedBatch`.

    Args:
        samples: token ids per sample (each non-empty).
        loss_masks: per sample, truthy where the token is a training target (e.g. assistant
            tokens); ``None`` trains on every token but each sample's first.
        cp: context-parallel size; sets the default ``pad_multiple = lcm(128, 2 * cp)``.
        pad_multiple: total length is rounded up to a multiple of this (1 disables padding).
        sample_multiple: pad every sample to a multiple of this (e.g. ``2 * cp``); 1 = off.
        pad_token_id: token id used for padding.
        capacity: if given, raise ``ValueError`` when the padded length exceeds it.
    """
    if pad_multiple is None:
        pad_multiple = default_pad_multiple(cp)
    if pad_multiple < 1 or sample_multiple < 1:
        raise ValueError("pad_multiple and sample_multiple must be >= 1")
    if loss_masks is not None and len(loss_masks) != len(samples):
        raise ValueError(f"{len(samples)} samples but {len(loss_masks)} loss masks")

    ids_parts, lab_parts, shl_parts, pos_parts = [], [], [], []
    bounds = [0]
    seq_lens = []
    for i, s in enumerate(samples):
        ids = np.asarray(s, dtype=np.int64)
        n = ids.shape[0]
        if ids.ndim != 1 or n == 0:
            raise ValueError(f"sample {i} must be a non-empty 1-D token list")
        if loss_masks is None:
            mask = np.ones(n, dtype=bool)
        else:
            mask = np.asarray(loss_masks[i]).astype(bool)
            if mask.shape != (n,):
                raise ValueError(f"loss mask {i} has shape {mask.shape}, sample has {n} tokens")
        lab = np.where(mask, ids, IGNORE_INDEX)
        lab[0] = IGNORE_INDEX  # no prediction for a sample's first token inside the sample
        shl = np.full(n, IGNORE_INDEX, dtype=np.int64)
        shl[:-1] = lab[1:]
        padded = -(-n // sample_multiple) * sample_multiple
        extra = padded - n
        if extra:
            ids = np.concatenate((ids, np.full(extra, pad_token_id, dtype=np.int64)))
            lab = np.concatenate((lab, np.full(extra, IGNORE_INDEX, dtype=np.int64)))
            shl = np.concatenate((shl, np.full(extra, IGNORE_INDEX, dtype=np.int64)))
        ids_parts.append(ids)
        lab_parts.append(lab)
        shl_parts.append(shl)
        pos_parts.append(np.arange(padded, dtype=np.int64))
        bounds.append(bounds[-1] + padded)
        seq_lens.append(n)

    total = bounds[-1]
    length = -(-total // pad_multiple) * pad_multiple
    pad_len = length - total
    if pad_len:
        ids_parts.append(np.full(pad_len, pad_token_id, dtype=np.int64))
        lab_parts.append(np.full(pad_len, IGNORE_INDEX, dtype=np.int64))
        shl_parts.append(np.full(pad_len, IGNORE_INDEX, dtype=np.int64))
        pos_parts.append(np.arange(pad_len, dtype=np.int64))
        bounds.append(length)
    if capacity is not None and length > capacity:
        raise ValueError(f"packed length {length} (from {total} tokens) exceeds capacity {capacity}")

    def cat(parts):
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    return PackedBatch(
        input_ids=cat(ids_parts),
        labels=cat(lab_parts),
        shift_labels=cat(shl_parts),
        position_ids=cat(pos_parts),
        cu_seqlens=np.asarray(bounds, dtype=np.int32),
        seq_lens=np.asarray(seq_lens, dtype=np.int32),
        num_samples=len(seq_lens),
        pad_len=int(pad_len),
    )
