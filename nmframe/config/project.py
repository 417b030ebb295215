"""Where a run's outputs go when nothing says otherwise: anchored, never the current directory.

Why: `nmframe run` from another folder must not start a fresh, empty cache there. The default
`paths.outputs` is, in order:

1. ``$NMFRAME_OUTPUTS`` when it is set (a relative value is taken from the current directory,
   since the user typed it);
2. ``<project root>/outputs``, where the project root is the nearest folder, from the current
   directory upwards, that holds a ``.nmframe`` marker file (your own project, with its
   --config-dir experiments) or nmframe's own ``conf/config.yaml`` (a source checkout);
3. else the folder that holds nmframe's conf/ (the source tree of an editable install).

An explicit ``paths.outputs=...`` wins over all three. The default is written into the config as
``${nmframe_outputs:}`` so that `--cfg job` shows where it comes from and `--resolve` shows the path.
"""
from __future__ import annotations

import os
from pathlib import Path

from omegaconf import OmegaConf

MARKER = ".nmframe"
OUTPUTS_ENV = "NMFRAME_OUTPUTS"
RESOLVER = "nmframe_outputs"


def conf_dir() -> Path:
    env = os.environ.get("NMFRAME_CONF_DIR")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve().parents[2] / "conf"
    if not (here / "config.yaml").exists():
        raise FileNotFoundError(f"nmframe's conf/ folder was not found at {here}; install nmframe from "
                                "its source tree (pip install -e .) or set NMFRAME_CONF_DIR")
    return here


def _is_project(folder: Path) -> bool:
    return (folder / MARKER).is_file() or (folder / "conf" / "config.yaml").is_file()


def project_root(start: Path | None = None) -> Path:
    """The nearest project folder above ``start`` (default: the current directory), else the
    folder that holds nmframe's conf/."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if _is_project(folder):
            return folder
    return conf_dir().parent


def default_outputs() -> Path:
    """The outputs folder used when `paths.outputs` is not set (see the module docstring)."""
    env = os.environ.get(OUTPUTS_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return project_root() / "outputs"


def outputs_origin() -> str:
    """Why :func:`default_outputs` chose its folder, for the plan header."""
    if os.environ.get(OUTPUTS_ENV):
        return f"${OUTPUTS_ENV}"
    return "project root"


def register_outputs_resolver() -> None:
    if not OmegaConf.has_resolver(RESOLVER):
        OmegaConf.register_new_resolver(RESOLVER, lambda: str(default_outputs()), use_cache=False)
