"""The model under test: the student's last checkpoint, or a base model, and its backend.

``evaluate.model = "student"`` evaluates the checkpoint of the last ``train_stage`` task:
``<artifact>/checkpoint/model`` (a transformers directory written by the torch trainer) or
``<artifact>/checkpoint/hf`` (the Hugging Face export of a megatron checkpoint, written after the
final stage); a megatron dist checkpoint without that export (``sft.export_hf=false``) is
converted here into the task's scratch folder (:mod:`nmframe.export`). Checkpoints hold weights only; the tokenizer is the student's (``model.tokenizer``), so a
directory with links to the weights plus the saved tokenizer is made in the task's scratch
folder, which every backend (transformers, vLLM) can load. Anything else is a model path, a hub
id, or ``builtin:tiny`` (the random tiny model, for tests).
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

from nmframe.generation.registry import BackendSpec, open_backend, registered_backends, teacher_is_gpt_oss


class EvaluateError(RuntimeError):
    """The evaluation cannot start (no usable checkpoint, no judge, bad settings)."""


@dataclass(frozen=True)
class ModelRef:
    kind: str          # student | base
    path: str          # what the backend loads
    tiny: bool         # random-weight tiny model (its accuracy is noise)
    label: str


def student_weights(train_artifact: Path, cfg=None, scratch: Optional[Path] = None) -> Path:
    """The transformers weights of a train_stage artifact; a megatron dist checkpoint without its
    export is converted into ``<scratch>/hf`` (given ``cfg`` and ``scratch``; kept for a resume)."""
    ckpt = Path(train_artifact) / "checkpoint"
    for sub in ("model", "hf"):
        if (ckpt / sub / "config.json").is_file():
            return ckpt / sub
    if (ckpt / "metadata.json").is_file() and cfg is not None and scratch is not None:
        return _converted(cfg, ckpt, Path(scratch) / "hf")
    raise EvaluateError(f"{ckpt} holds no transformers model (config.json under checkpoint/model or checkpoint/hf) "
                        "and no Megatron dist checkpoint (metadata.json) that could be converted to a Hugging Face "
                        "directory")


def _converted(cfg, ckpt: Path, target: Path) -> Path:
    import json

    from nmframe.export import export_hf

    done = target / "nmframe_export.json"
    if done.is_file() and json.loads(done.read_text()).get("source") == str(ckpt):
        return target
    export_hf(ckpt, target, cfg.model)
    return target


def with_tokenizer(cfg, weights: Path, scratch: Path) -> Path:
    """``weights`` itself when it carries a tokenizer, else a scratch directory of links to its
    files plus the student's tokenizer."""
    if (weights / "tokenizer.json").is_file() or (weights / "tokenizer_config.json").is_file():
        return weights
    from nmframe.models.tiny import load_tokenizer

    target = Path(scratch) / "model"
    target.mkdir(parents=True, exist_ok=True)
    for f in weights.iterdir():
        link = target / f.name
        if link.is_symlink() or link.exists():
            link.unlink()
        os.symlink(f.resolve(), link)
    load_tokenizer(str(cfg.model.tokenizer), int(cfg.model.vocab_size)).save_pretrained(target)
    return target


def resolve_model(cfg, train_artifact: Optional[Path], scratch: Path) -> ModelRef:
    spec = str(cfg.evaluate.model)
    if spec == "student":
        if train_artifact is None:
            raise EvaluateError("evaluate.model=student needs the train_stage artifact")
        path = with_tokenizer(cfg, student_weights(train_artifact, cfg, scratch), scratch)
        return ModelRef("student", str(path), bool(cfg.model.tiny), f"{cfg.model.name} student")
    return ModelRef("base", spec, spec.startswith("builtin:"), spec)


def backend_kind(cfg) -> str:
    """``evaluate.backend``, with ``auto`` resolved: hf for a tiny model, else vllm."""
    kind = str(cfg.evaluate.backend)
    if kind == "auto":
        spec = str(cfg.evaluate.model)
        tiny = (spec == "student" and bool(cfg.model.tiny)) or spec.startswith("builtin:")
        return "hf" if tiny else "vllm"
    allowed = registered_backends()
    if kind not in allowed:
        raise EvaluateError(f"evaluate.backend={kind!r}: allowed auto, {', '.join(allowed)}")
    return kind


def evaluation_spec(cfg, model: ModelRef) -> BackendSpec:
    """The backend spec serving ``model``: the ``evaluate`` section's backend, endpoint, tensor
    parallelism and batch size; retries, timeouts and server settings as the teacher's."""
    ev = cfg.evaluate
    return BackendSpec.from_teacher(cfg).replace(
        backend=backend_kind(cfg), model=model.path, teacher_tokenizer=teacher_is_gpt_oss(model.path),
        tensor_parallel_size=int(ev.tensor_parallel_size), endpoint=ev.endpoint or None,
        batch_size=int(ev.batch_size))


@contextlib.contextmanager
def open_model_backend(cfg, model: ModelRef, log_dir: Optional[Path] = None) -> Iterator:
    """A generation backend (nmframe.generation) serving ``model`` with the evaluate settings."""
    with open_backend(evaluation_spec(cfg, model), log_dir=log_dir) as backend:
        yield backend
