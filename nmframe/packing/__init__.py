"""Sequence packing for long-context SFT: bin packing, packed sequences, block-diagonal masks.

Each training stage packs its traces into sequences of the stage's capacity. ``pack`` chooses
the bins (Best-Fit-Decreasing, within 1% of the lower bound on realistic length mixes),
``packed_batch`` lays out one bin (restarting positions, ``cu_seqlens``, padding to
``lcm(128, 2 * CP)``), ``block_causal_mask`` is the dense mask for CPU attention, and
``hf_packed`` runs a Hugging Face model on a packed sequence with the unpacked loss.
"""

from .batch import IGNORE_INDEX, PackedBatch, default_pad_multiple, packed_batch
from .binpack import bin_loads, check_packing, lower_bound, pack, packing_summary, utilisation

_TORCH_NAMES = {"block_causal_mask", "hf_attention_mask", "segment_ids"}


def __getattr__(name):
    # The mask helpers need torch; importing it lazily keeps ``pack`` usable without torch.
    if name in _TORCH_NAMES:
        from . import masks

        return getattr(masks, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "IGNORE_INDEX",
    "PackedBatch",
    "bin_loads",
    "block_causal_mask",
    "check_packing",
    "default_pad_multiple",
    "hf_attention_mask",
    "lower_bound",
    "pack",
    "packed_batch",
    "packing_summary",
    "segment_ids",
    "utilisation",
]
