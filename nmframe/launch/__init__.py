"""Launchers: local subprocesses, Slurm through submitit, and a dry run that only prints.

They implement the engine's launcher interface (:mod:`nmframe.engine.execution`);
:func:`make_launcher` builds the one a config asks for.
"""
from nmframe.launch.from_config import make_launcher

__all__ = ["make_launcher"]
