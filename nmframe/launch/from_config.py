"""The launcher a config asks for (``launcher.kind``), built from the ``launcher`` section.

Why here: the engine receives a launcher and never imports this package; the command line
builds it from the composed config and hands it over.
"""
from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from nmframe.engine.execution import Launcher
from nmframe.errors import ConfigError


def make_launcher(cfg: DictConfig, echo=print, on_state=None) -> Launcher:
    """``on_state(key, state)`` is told of every state change (local launcher); ``echo`` prints
    what a dry run would submit."""
    kind = str(getattr(cfg.launcher.kind, "value", cfg.launcher.kind))
    if kind == "local":
        from nmframe.launch.local import LocalLauncher

        return LocalLauncher(max_parallel=cfg.launcher.max_parallel, cpu_budget=cfg.launcher.cpu_budget,
                             on_state=on_state)
    if kind == "dryrun":
        from nmframe.launch.dryrun import DryRunLauncher

        return DryRunLauncher(target=cfg.launcher.dryrun_target, slurm_options=slurm_options(cfg), echo=echo)
    if kind == "slurm":
        from nmframe.launch.slurm import SlurmLauncher

        return SlurmLauncher(slurm_options(cfg))
    raise ConfigError("launcher.kind", kind, "unknown launcher", allowed="local, slurm, dryrun")


def slurm_options(cfg: DictConfig):
    from nmframe.launch.slurm import SlurmOptions

    opts = OmegaConf.to_container(cfg.launcher.slurm, resolve=True)
    return SlurmOptions(**opts)
