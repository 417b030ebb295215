"""Compose configs from conf/ + command-line overrides, expand sweeps, and explain errors.

Why: Hydra and OmegaConf already reject unknown keys, wrong types and missing group choices; this
module turns their exceptions into one line that names the key, the value and what is allowed,
and expands `-m` sweeps into one composed config per point so every point is validated before
any of them launches.
"""
from __future__ import annotations

import contextlib
import difflib
import logging
import os
import re
import typing
from dataclasses import fields, is_dataclass
from pathlib import Path

import yaml
from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException, MissingConfigException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from nmframe.config.project import conf_dir
from nmframe.config.schema import NmConfig, register_schemas
from nmframe.config.checks import ConfigError, validate

log = logging.getLogger(__name__)
GROUPS = ("source", "mode", "tir", "buckets", "model", "parallelism", "teacher", "judge_llm", "trainer", "launcher",
          "experiment")


class OverrideError(ValueError):
    """A command-line override or config file that cannot be composed."""


NAME_MAX = 100  # a run directory name holds it with a time stamp and two suffixes (ext4: 255 bytes)
_SAFE_PATH = re.compile(r"[A-Za-z0-9._/-]+")


def check_safe_path(what: str, value: str, max_len: int | None = None) -> None:
    """`name` and group choices become paths (run directories, config files): letters, digits,
    . _ - / only, relative, no `..` / `.` / empty parts, no `${...}` interpolation. Raises
    OverrideError naming `what`."""
    if "${" in value:
        raise OverrideError(f"{what}={value!r}: interpolation is not allowed here")
    if not _SAFE_PATH.fullmatch(value):
        raise OverrideError(f"{what}={value[:60]!r}: use only letters, digits, '.', '_', '-' and '/'")
    if any(part in ("", ".", "..") for part in value.split("/")):
        raise OverrideError(f"{what}={value!r}: must be a relative name without '..', '.' or empty parts "
                            "(your own configs come from --config-dir folders)")
    if max_len is not None and len(value) > max_len:
        raise OverrideError(f"{what}: {len(value)} characters is too long (at most {max_len})")


def check_overrides(overrides: list[str]) -> None:
    """Before Hydra sees them: group choices and `name` are safe paths; `hydra.*` stays internal;
    `+key` / `++key` may add a key only where the schema has room for one (see :func:`check_addition`)."""
    for ov in overrides:
        key, sep, value = ov.partition("=")
        raw_key = key.strip()
        key = key.lstrip("+~").split("@")[0].strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        if key in ("hydra/launcher", "hydra/sweeper"):
            raise OverrideError(f"{ov[:80]!r}: nmframe launches with its own launchers: use the launcher group "
                                f"(launcher={'|'.join(group_choices()['launcher'])}); sweeps need only -m")
        if key.startswith("hydra.") or key == "hydra" or key.startswith("hydra/"):
            raise OverrideError(f"{ov[:80]!r}: hydra settings are not overridable (hydra.verbose is, on the command "
                                "line); add config folders with --config-dir")
        if raw_key.startswith("+") and sep and key not in GROUPS and "/" not in key and "@" not in raw_key:
            check_addition(key, force=raw_key.startswith("++"))
        if not sep:
            continue
        if key in GROUPS:
            if value not in ("null", ""):
                check_safe_path(key, value)
        elif key == "name":
            check_safe_path("name", value, NAME_MAX)


def group_choices(extra_dirs: list[Path] | None = None) -> dict[str, list[str]]:
    """Every choice of every config group (experiments listed recursively: paper/table4_...)."""
    out: dict[str, set[str]] = {g: set() for g in GROUPS}
    for root in [conf_dir(), *(extra_dirs or [])]:
        for g in GROUPS:
            for p in (Path(root) / g).rglob("*.yaml"):
                out[g].add(str(p.relative_to(Path(root) / g).with_suffix("")))
    return {g: sorted(v) for g, v in out.items()}


def _keys_of(path: list[str]) -> list[str]:
    """The keys allowed at ``path`` (e.g. ["launcher", "slurm"]), read from the schema itself."""
    node = NmConfig
    for part in path:
        if typing.get_origin(node) in (dict, typing.Dict) and typing.get_args(node):
            node = _unwrap(typing.get_args(node)[1])  # `part` is a mapping key: its value's type
            continue
        hints = typing.get_type_hints(node) if is_dataclass(node) else {}
        node = _unwrap(hints.get(part))
    return [f.name for f in fields(node)] if node is not None and is_dataclass(node) else []


def _unwrap(hint):
    """Optional[X] -> X; other hints unchanged."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if typing.get_origin(hint) is typing.Union and len(args) == 1 else hint


def check_addition(key: str, force: bool = False) -> None:
    """`+key=value` (`++key=value` when ``force``) adds a key; in a typed section that is a misspelt
    key like any other, so it is refused with the same message. Room for new keys exists only below
    a mapping (``Dict[str, ...]``: parallelism.stages, launcher.slurm.additional) or an untyped node."""
    node, parts = NmConfig, key.split(".")
    for i, part in enumerate(parts):
        if typing.get_origin(node) in (dict, typing.Dict):  # any name is a key here; its value has a type
            node = _unwrap(typing.get_args(node)[1]) if typing.get_args(node) else typing.Any
            continue
        if not is_dataclass(node):
            return  # a list, a primitive or an untyped node: Hydra's own checks apply
        hints = typing.get_type_hints(node)
        if part not in hints:
            raise OverrideError(unknown_key_message(".".join(parts[: i + 1]))
                                + f" ('{'++' if force else '+'}' adds keys only where the schema has room for them)")
        node = _unwrap(hints[part])


def unknown_key_message(full_key: str) -> str:
    """"unknown key 'trainer.lrr'; allowed keys in trainer: ... (did you mean 'trainer.lr'?)"."""
    parts = full_key.split(".") if full_key else []
    allowed = _keys_of(parts[:-1])
    hint = difflib.get_close_matches(parts[-1], allowed, n=1) if parts else []
    out = f"unknown key '{full_key}'"
    if allowed:
        out += f"; allowed keys{' in ' + '.'.join(parts[:-1]) if parts[:-1] else ''}: {', '.join(allowed)}"
    if hint:
        out += f" (did you mean '{'.'.join(parts[:-1] + hint)}'?)"
    return out


def explain(exc: BaseException) -> str:
    """One readable line (or a few) for a composition failure."""
    chain, e = [], exc
    while e is not None and e not in chain:
        chain.append(e)
        e = e.__cause__ or e.__context__
    if isinstance(exc, MissingConfigException) or any(isinstance(c, MissingConfigException) for c in chain):
        text = str(next(c for c in chain if isinstance(c, MissingConfigException)))
        lines = [l.strip() for l in text.splitlines() if l.strip()]
        head = lines[0].replace("In 'config': ", "")
        opts = []
        for l in lines[1:]:
            if l.startswith("Config search path"):
                break
            if not l.startswith("Available options"):
                opts.append(l)
        return f"{head}. Allowed: {', '.join(opts)}" if opts else head
    omegas = [c for c in chain if isinstance(c, OmegaConfBaseException)]
    # the outermost OmegaConf exception carries the formatted message and the full key
    omega = next((c for c in omegas if "$" not in str(c).splitlines()[0]), omegas[0] if omegas else None)
    if omega is not None:
        full_key = getattr(omega, "full_key", None) or ""
        msg = str(omega).splitlines()[0]
        for token, val in (("$VALUE_TYPE", type(getattr(omega, "value", None)).__name__),
                           ("$VALUE", getattr(omega, "value", None)), ("$FULL_KEY", full_key),
                           ("$KEY", getattr(omega, "key", None) or full_key)):
            msg = msg.replace(token, str(val))
        kind = type(omega).__name__
        if kind in ("ConfigKeyError", "ConfigAttributeError") and ("not in" in msg or "struct" in msg or "Missing key" in msg):
            return unknown_key_message(full_key)
        return f"{full_key}: {msg}" if full_key else msg
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if text.startswith("Error parsing override"):
        cause = next((str(c).splitlines()[0] for c in chain[1:] if str(c)), "")
        text += f": {cause}" if cause else ""
        text += " (keys must start with a letter; quote values with spaces: key='a b')"
    return text


def _yaml_error_line(exc: "yaml.YAMLError") -> str:
    """A config file that is not YAML: its file:line and what the parser expected."""
    mark = getattr(exc, "problem_mark", None)
    where = f"{mark.name}:{mark.line + 1}: " if mark is not None else ""
    what = " ".join(x for x in (getattr(exc, "context", None), getattr(exc, "problem", None)) if x) or str(exc)
    return f"{where}not valid YAML ({what})"


def _absolutize(cfg: DictConfig) -> None:
    base = Path(os.environ.get("NMFRAME_WORKDIR", os.getcwd()))
    for key in ("outputs", "data"):
        val = cfg.paths[key]
        if not os.path.isabs(val):
            cfg.paths[key] = str((base / val).resolve())


@contextlib.contextmanager
def hydra_session(overrides: list[str], extra_dirs: list[Path] | None = None):
    """Hydra initialised on nmframe's conf/ (+ ``extra_dirs``); yields the overrides to hand to it
    (checked, with the search path added). Composition errors leave as one-line OverrideErrors."""
    register_schemas()
    GlobalHydra.instance().clear()
    check_overrides(overrides)
    overrides = list(overrides)
    if extra_dirs:
        paths = ",".join(f"file://{Path(d).resolve()}" for d in extra_dirs)
        overrides.append(f"hydra.searchpath=[{paths}]")
    try:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            yield overrides
    except (HydraException, OmegaConfBaseException, ValueError) as exc:
        raise OverrideError(explain(exc)) from exc
    except yaml.YAMLError as exc:
        raise OverrideError(_yaml_error_line(exc)) from exc
    finally:
        GlobalHydra.instance().clear()


def compose(overrides: list[str], extra_dirs: list[Path] | None = None, check: bool = True) -> DictConfig:
    """Compose one run's config; returns a plain, resolved, read-only-keys DictConfig."""
    with hydra_session(overrides, extra_dirs) as full:
        cfg = hydra_compose(config_name="config", overrides=full)
        _absolutize(cfg)
        plain = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True, throw_on_missing=True)
    out = OmegaConf.create(plain)
    log.debug("composed %s: outputs in %s", " ".join(overrides) or "(defaults)", out.paths.outputs)
    OmegaConf.set_struct(out, True)
    check_safe_path("name", str(out.name), NAME_MAX)
    if check:
        validate(out)
    return out


def is_sweep(overrides: list[str]) -> bool:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except (HydraException, ValueError) as exc:  # ValueError: a number too long to convert
        raise OverrideError(explain(exc)) from exc
    return any(o.is_sweep_override() for o in parsed)


def override_keys(overrides: list[str]) -> list[tuple[str, bool]]:
    """The config key (or group) each override sets, and whether it is swept: `trainer.lr=1e-4,2e-4`
    -> ("trainer.lr", True). Deletions (`~key`) set nothing and are left out."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except (HydraException, ValueError) as exc:
        raise OverrideError(explain(exc)) from exc
    return [(o.key_or_group, o.is_sweep_override()) for o in parsed if not o.is_delete()]


def expand_sweep(overrides: list[str]) -> list[list[str]]:
    """`a=1,2 b=x,y` -> the four override lists of the cross product (Hydra's basic sweeper)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except (HydraException, ValueError) as exc:  # ValueError: a number too long to convert
        raise OverrideError(explain(exc)) from exc
    batches = BasicSweeper.split_arguments(parsed, max_batch_size=None)
    return [list(point) for batch in batches for point in batch]


def compose_points(overrides: list[str], multirun: bool, extra_dirs: list[Path] | None = None) -> list[tuple[list[str], DictConfig]]:
    """All sweep points, each composed and validated; any invalid point fails the whole call."""
    if not multirun:
        if is_sweep(overrides):
            raise OverrideError("these overrides describe a sweep (a=x,y / glob / range): add -m to run it")
        return [(list(overrides), compose(overrides, extra_dirs))]
    points = expand_sweep(overrides)
    out = []
    for p in points:
        try:
            out.append((p, compose(p, extra_dirs)))
        except (OverrideError, ConfigError) as exc:
            raise type(exc)(f"sweep point [{' '.join(p)}]: {exc}") if isinstance(exc, OverrideError) else exc
    return out
