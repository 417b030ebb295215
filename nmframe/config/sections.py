"""Schemas of the per-step settings sections (generate, answers, filters, sft, evaluate).

Kept apart from the group schemas in `schema.py`: these are knobs of the pipeline's steps rather
than choices of a group, and each step's module documents its own.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional


@dataclass
class GenerateConfig:
    shards: int = 1                   # problems are split into this many shards, one task each
    max_problems: Optional[int] = None  # cap for smoke runs


@dataclass
class AnswersConfig:
    grade_timeout_s: float = 5.0
    workers: Optional[int] = None     # grading processes (default: all cores)


@dataclass
class FiltersConfig:
    trivial_threshold: float = 0.8
    trivial_strict: bool = True       # remove when pass rate > threshold (False: >=)


@dataclass
class SftConfig:
    template: str = "harmony"         # harmony (the teacher's format, as the paper) | chat (student template)


@dataclass
class EvaluateConfig:
    benchmarks: List[str] = field(default_factory=lambda: ["comp-math-24-25"])
