"""The canonical problem row and converters from the shapes users have.

Canonical row:
    id                        stable id (the row's own `id`, else "p-" + hash of the normalised text)
    problem                   the problem statement
    expected_answer           reference answer or None (answer validation fills it)
    original_expected_answer  the answer before validation replaced it (released rows)
    changed_answer_to_majority
    data_source               "aops", "stackexchange", "comp-math-24-25", ...
    subset                    benchmark subset for metrics (aime24, aime25, hmmt-24-25) or None
    discussion                the forum thread (AoPS dumps), for answer extraction
    license, url              kept per row
    origin                    "file:line" the row came from
    metadata                  the released dataset's metadata (pass rates per mode/tool) or {}

Ids are stable: the same problem text always gets the same id, in every run and on every machine.
"""
from __future__ import annotations

import hashlib
import re

CANONICAL_FIELDS = ("id", "problem", "expected_answer", "original_expected_answer",
                    "changed_answer_to_majority", "data_source", "subset", "discussion", "license",
                    "url", "origin", "metadata")

_WS = re.compile(r"\s+")


class RowError(ValueError):
    """A row that cannot become a problem (reported with its file:line, never silently dropped)."""


def normalise_text(text: str) -> str:
    return _WS.sub(" ", text.replace("\r", "")).strip()


def problem_id(text: str) -> str:
    return "p-" + hashlib.sha1(normalise_text(text).lower().encode()).hexdigest()[:12]


def detect_schema(row: dict) -> str:
    if "forum_post" in row:
        return "aops_forum"
    if "subset_for_metrics" in row:
        return "benchmark"
    if "messages" in row and "problem" in row:
        return "released"
    if "problem" in row:
        return "canonical"
    raise RowError(f"unrecognised row: needs 'problem' or 'forum_post' (has: {', '.join(sorted(row)[:8])})")


def _text(row: dict, key: str) -> str:
    val = row.get(key)
    if val is None:
        raise RowError(f"missing field {key!r}")
    if not isinstance(val, str):
        raise RowError(f"field {key!r} must be a string, got {type(val).__name__}")
    if not val.strip():
        raise RowError(f"field {key!r} is empty")
    return val


def _answer(row: dict, key: str = "expected_answer") -> str | None:
    val = row.get(key)
    if val is None:
        return None
    if isinstance(val, (int, float)) and not isinstance(val, bool):
        val = str(val)
    if not isinstance(val, str):
        raise RowError(f"field {key!r} must be a string or number, got {type(val).__name__}")
    return val.strip() or None


def _opt_text(row: dict, key: str) -> str | None:
    """An optional string field: None, or a string; anything else is the row's error, not str()'d."""
    val = row.get(key)
    if val is None or isinstance(val, str):
        return val
    raise RowError(f"field {key!r} must be a string, got {type(val).__name__}")


def _row_id(row: dict) -> str | None:
    """Ids are strings or whole numbers (JSON ids are often ints); a list, dict, float or bool is an
    error, never str()'d into an id that collides or changes meaning."""
    val = row.get("id")
    if val is None:
        return None
    if isinstance(val, int) and not isinstance(val, bool):
        return str(val)
    if not isinstance(val, str) or not val.strip():
        raise RowError(f"field 'id' must be a non-empty string or an integer, got {type(val).__name__}")
    return val


def _metadata(row: dict) -> dict:
    meta = row.get("metadata")
    if isinstance(meta, str):
        import json

        try:
            meta = json.loads(meta)
        except ValueError:
            raise RowError("field 'metadata' is a string that is not JSON") from None
    return meta if isinstance(meta, dict) else {}


def to_canonical(row: dict, schema: str, origin: str, default_source: str | None) -> dict:
    if schema == "auto":
        schema = detect_schema(row)
    out = dict.fromkeys(CANONICAL_FIELDS)
    out["origin"] = origin
    out["metadata"] = {}
    if schema == "aops_forum":
        out["problem"] = _text(row, "forum_post")
        disc = row.get("forum_discussions")
        out["discussion"] = disc if isinstance(disc, str) and disc.strip() else None
        out["expected_answer"] = _answer(row)
        out["data_source"] = _opt_text(row, "data_source") or default_source or "aops"
        out["url"] = _opt_text(row, "url")
        out["license"] = _opt_text(row, "license")
    elif schema == "benchmark":
        out["problem"] = _text(row, "problem")
        out["expected_answer"] = _answer(row)
        if out["expected_answer"] is None:
            raise RowError("benchmark row without 'expected_answer'")
        out["subset"] = _opt_text(row, "subset_for_metrics")
        out["data_source"] = default_source or "benchmark"
        out["id"] = _row_id(row)
    elif schema == "released":
        out["problem"] = _text(row, "problem")
        out["expected_answer"] = _answer(row)
        out["original_expected_answer"] = _answer(row, "original_expected_answer")
        cam = row.get("changed_answer_to_majority")
        out["changed_answer_to_majority"] = bool(cam) if cam is not None else None
        out["data_source"] = _opt_text(row, "data_source") or default_source or "released"
        out["license"] = _opt_text(row, "license")
        out["url"] = _opt_text(row, "url")
        out["metadata"] = _metadata(row)
    elif schema == "canonical":
        out["problem"] = _text(row, "problem")
        out["expected_answer"] = _answer(row)
        out["data_source"] = _opt_text(row, "data_source") or default_source or "user"
        out["subset"] = _opt_text(row, "subset")
        for k in ("discussion", "license", "url"):
            out[k] = _opt_text(row, k)
        out["original_expected_answer"] = _answer(row, "original_expected_answer")
        cam = row.get("changed_answer_to_majority")
        if cam is not None and not isinstance(cam, bool):
            raise RowError(f"field 'changed_answer_to_majority' must be true or false, got {type(cam).__name__}")
        out["changed_answer_to_majority"] = cam
        out["metadata"] = _metadata(row)
        out["id"] = _row_id(row)
    else:
        raise RowError(f"unknown schema {schema!r}")
    if not out["id"]:
        out["id"] = problem_id(out["problem"])
    return out
