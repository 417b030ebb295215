"""Trainers of the bucketed SFT schedule behind one interface (:class:`base.Trainer`).

``torch`` (:mod:`.torch_trainer`) trains a transformers student on CPU; ``megatron``
(:mod:`.megatron_trainer`) drives Megatron-Core (+ Transformer Engine on GPUs) under torchrun
(:mod:`.megatron_entry`). Both consume the same packed schedule (:mod:`.batches`);
:mod:`.cost` predicts step times and GPU-hours for the plan.
"""
from .base import StageData, StageResult, Trainer

__all__ = ["StageData", "StageResult", "Trainer"]
