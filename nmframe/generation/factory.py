"""The teacher's backend from a whole config: the old entry point, kept for one release.

New code builds a spec and opens it (:mod:`nmframe.generation.registry`)::

    with open_backend(BackendSpec.from_teacher(cfg), log_dir) as backend: ...
"""
from __future__ import annotations

from pathlib import Path
from typing import ContextManager, Optional

from nmframe.generation.base import Backend
from nmframe.generation.registry import BackendSpec, teacher_is_gpt_oss
from nmframe.generation.registry import open_backend as open_spec

__all__ = ["open_backend", "teacher_is_gpt_oss"]


def open_backend(cfg, log_dir: Optional[Path] = None) -> ContextManager[Backend]:
    """The backend of ``cfg.teacher`` (+ ``cfg.generate``), closed on exit."""
    return open_spec(BackendSpec.from_teacher(cfg), log_dir)
