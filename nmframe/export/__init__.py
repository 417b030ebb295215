"""Export of Megatron-trained students to Hugging Face format (what vLLM and transformers load).

The ``megatron`` trainer saves ``megatron.core.dist_checkpointing`` directories; evaluation
samples with vLLM or transformers, which load ``Qwen3ForCausalLM`` / ``Qwen3MoeForCausalLM``
directories. :func:`export_hf` converts one into the other: :mod:`.reader` reads the checkpoint's
global tensors layer by layer, :mod:`.mapping` renames and splits them (fused QKV, fused
gate/up, experts), :mod:`.hf` writes config, safetensors and tokenizer.
``python -m nmframe.export CHECKPOINT OUT_DIR [config overrides]`` does it by hand.
"""
from nmframe.export.hf import export_hf
from nmframe.export.mapping import Geometry, MappingError
from nmframe.export.reader import CheckpointError, DistCheckpoint

__all__ = ["CheckpointError", "DistCheckpoint", "Geometry", "MappingError", "export_hf"]
