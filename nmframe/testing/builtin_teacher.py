"""Write a ``builtin:`` teacher (random tiny weights, built locally) as a transformers directory.

Why: engines that load a model from a path (vLLM, a `vllm serve` under test) cannot build the
``builtin:`` models themselves; tests give them this directory instead.
"""
from __future__ import annotations

from pathlib import Path

from nmframe.generation.hf_backend import load_hf_teacher


def save_builtin_teacher(model: str, path) -> Path:
    """Save the tokenizer and weights of ``model`` (``builtin:<name>``) under ``path``."""
    tok, mdl = load_hf_teacher(model)
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(path)
    mdl.save_pretrained(path)
    return path
