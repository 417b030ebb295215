"""Metrics of graded evaluation records, as plain JSON (nmframe.metrics does the arithmetic)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from nmframe.metrics import compute_metrics


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if hasattr(obj, "item"):
        return obj.item()
    return obj


def score(records: list[dict], ks: Sequence[int] = (1,), alpha: float = 0.05, seed: int = 0,
          vote: str = "equivalence", ties: str = "first") -> dict:
    """``{"overall": {...}, "by_subset": {subset: {...}}}``: pass@1 (+SE, bootstrap CI),
    pass@k, maj@k (voting convention ``vote`` / ``ties``), no-answer / ungraded rates and mean
    tokens (see nmframe.metrics.summary)."""
    return _plain(compute_metrics(records, ks=tuple(ks), alpha=alpha, seed=seed, vote=vote, ties=ties))


def maj_convention(cfg) -> dict:
    """``{"vote": ..., "ties": ...}`` of a composed config's ``metrics`` section."""
    m = cfg.get("metrics") if cfg is not None else None
    if m is None:
        return {"vote": "equivalence", "ties": "first"}
    return {"vote": str(getattr(m.vote, "value", m.vote)), "ties": str(getattr(m.ties, "value", m.ties))}


def read_eval_records(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
