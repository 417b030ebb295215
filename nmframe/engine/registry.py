"""Steps are found by name. Registering the same name twice is an error, never a silent override."""
from __future__ import annotations

import importlib
import os

from nmframe.errors import ConfigError

_STEPS: dict[str, type] = {}
_RETIRED: dict[str, str] = {}  # old step name -> what replaces it, for the error a stale config gets
_BUILTIN_MODULES = ("nmframe.steps",)
_loaded_for: str | None = None  # the NMFRAME_PLUGINS value whose modules are imported


class UnknownStepError(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return self.args[0]


def register_step(cls):
    name = getattr(cls, "name", None)
    if not name:
        raise TypeError(f"{cls.__name__} must set a class attribute `name`")
    if not getattr(cls, "VERSION", None):
        raise TypeError(f"step {name!r} must set a class attribute `VERSION`")
    if name in _STEPS and _STEPS[name] is not cls:
        raise ValueError(f"step name {name!r} is registered twice ({_STEPS[name].__module__} and {cls.__module__})")
    _STEPS[name] = cls
    return cls


def retire_step(old: str, replacement: str) -> None:
    """Record that step ``old`` no longer exists and what a config should name instead."""
    _RETIRED[old] = replacement


def replacement_of(name: str) -> str | None:
    """What replaces a retired step name (None if ``name`` was never retired)."""
    _load_builtins()
    return _RETIRED.get(name)


def _load_builtins() -> None:
    """Import the built-in steps and any plugin modules named in NMFRAME_PLUGINS (comma-separated),
    so a user's own steps register by name in the planner and in every worker process alike."""
    global _loaded_for
    wanted = os.environ.get("NMFRAME_PLUGINS", "")
    if wanted == _loaded_for:
        return  # a plan asks for thousands of steps; the modules are imported once per plugin list
    plugins = [m.strip() for m in wanted.split(",") if m.strip()]
    for mod in (*_BUILTIN_MODULES, *plugins):
        importlib.import_module(mod)
    _loaded_for = wanted


def get_step(name: str):
    _load_builtins()
    try:
        return _STEPS[name]()
    except KeyError:
        if name in _RETIRED:
            raise UnknownStepError(f"step {name!r} was replaced by {_RETIRED[name]}") from None
        raise UnknownStepError(
            f"unknown step {name!r}; registered steps: {', '.join(sorted(_STEPS))}") from None


def _active(cls: type) -> bool:
    """A built-in step, or one from a module NMFRAME_PLUGINS names now (a step imported under an
    earlier plugin list stays importable by name, but is not offered or read-checked)."""
    plugins = [m.strip() for m in os.environ.get("NMFRAME_PLUGINS", "").split(",") if m.strip()]
    mod = cls.__module__
    return mod.startswith("nmframe.") or any(mod == p or mod.startswith(p + ".") for p in plugins)


def list_steps() -> list[str]:
    _load_builtins()
    return sorted(name for name, cls in _STEPS.items() if _active(cls))


def check_pipeline_steps(cfg) -> None:
    """Every name in ``pipeline.steps`` is a registered step (one error naming the position)."""
    known = list_steps()
    for i, s in enumerate(cfg.pipeline.steps):
        if s not in known:
            if replacement_of(s):
                raise ConfigError(f"pipeline.steps[{i}]", s, f"was replaced by {replacement_of(s)}")
            raise ConfigError(f"pipeline.steps[{i}]", s, "unknown step", allowed=", ".join(known))
