"""Built-once model and tokenizer folders under ``$NMFRAME_CACHE`` (default ``~/.cache/nmframe``).

Tiny models and converted tokenizers are built locally and deterministically, never downloaded;
building takes seconds to minutes, so each is built once per content digest. A folder is written
under a temporary name beside its final one and renamed into place, so a reader never sees half a
folder and two processes building at once both end with the same complete one.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable


def cache_root() -> Path:
    return Path(os.environ.get("NMFRAME_CACHE", Path.home() / ".cache" / "nmframe"))


def cached_folder(target: Path, marker: str, build: Callable[[Path], None]) -> Path:
    """``target`` once it holds ``marker``; otherwise ``build(tmp)`` into a temporary folder that is
    renamed to ``target`` (if another process finished first, its folder is kept)."""
    if (target / marker).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=target.parent))
    try:
        build(tmp)
        try:
            os.replace(tmp, target)
        except OSError:  # another process finished first
            if not (target / marker).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
