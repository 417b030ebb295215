"""Experiment manifests: the paper's reference numbers for a named experiment.

``experiments/**/<name>.yaml`` (next to conf/) holds, for the experiment whose config sets
``name: <name>``: a title, the table layout, how sweep points map to the paper's rows
(``variants``: label -> {config path: value}), which variants are compared pairwise, and the
reference numbers ``reference[variant][config][subset] = [pass@1, maj@k]`` in percent (a
subset may also be a benchmark name, meaning all its problems pooled).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import yaml


def experiments_dir() -> Path:
    from nmframe.config import conf_dir

    return conf_dir().parent / "experiments"


def load_manifest(path: Path) -> dict:
    data = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(data, dict) or "name" not in data:
        raise ValueError(f"{path}: an experiment manifest is a mapping with at least 'name'")
    data.setdefault("variants", {})
    data.setdefault("reference", {})
    data.setdefault("compare", [])
    data.setdefault("layout", "by_variant")
    data["path"] = str(path)
    return data


def all_manifests(root: Optional[Path] = None) -> list[dict]:
    root = root or experiments_dir()
    return [load_manifest(p) for p in sorted(Path(root).rglob("*.yaml"))] if Path(root).is_dir() else []


def find_manifest(name: str, root: Optional[Path] = None) -> Optional[dict]:
    for m in all_manifests(root):
        if m["name"] == name or m.get("experiment") == name:
            return m
    return None


def reference(manifest: Optional[dict], variant: str, config: str, subset: str) -> tuple[Any, Any]:
    """(pass@1, maj@k) of the paper in percent, or (None, None)."""
    if not manifest:
        return None, None
    ref = manifest["reference"]
    table = ref.get(variant) if variant in ref else ref.get("*")
    val = (((table or {}).get(config)) or {}).get(subset)
    if val is None:
        return None, None
    if isinstance(val, (int, float)):
        return float(val), None
    vals = list(val) + [None, None]
    return vals[0], vals[1]
