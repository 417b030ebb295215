"""The answer and pass-rate filters on released rows, from their own columns and ``metadata``.

The triviality decision is :func:`nmframe.curation.trivial.decide_from_metadata`, the same
function the ``filter_trivial`` step uses. Calling it 7.5M times from Python is wasteful: a row's
decision depends only on its pass/count numbers, which take a few hundred distinct values. So the
numbers are gathered column-wise (struct metadata) or parsed per row (JSON-string metadata),
and the function decides once per distinct combination.

Outcomes per row: removed as "trivial", or kept with a note: "kept", "no attempts" (no counts
for the mode), "bad metadata" (malformed counts). "no expected_answer" is decided before, by the
answer filter.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from nmframe.curation.trivial import (
    BAD_METADATA,
    KEPT,
    NO_ATTEMPTS,
    TOOL_KEYS,
    TRIVIAL,
    decide_from_metadata,
)

NOTES = (KEPT, NO_ATTEMPTS, BAD_METADATA)  # index = note code of a kept row
_FIELDS = ("count", "pass")
_NOT_MAPPING = -2.0  # marks an entry that is present but not a {count, pass} mapping


def has_answer(batch: pa.RecordBatch, column: str = "expected_answer") -> np.ndarray:
    col = batch.column(column)
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        col = col.cast(pa.string())
    ok = pc.and_(pc.is_valid(col), pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(col)), 0))
    return np.asarray(pc.fill_null(ok, False), dtype=bool)


def changed_answer(batch: pa.RecordBatch) -> np.ndarray:
    if "changed_answer_to_majority" not in batch.schema.names:
        return np.zeros(batch.num_rows, dtype=bool)
    col = batch.column("changed_answer_to_majority")
    if not pa.types.is_boolean(col.type):
        col = col.cast(pa.bool_())
    return np.asarray(pc.fill_null(col, False), dtype=bool)


def _struct_numbers(meta: pa.Array, mode: str) -> np.ndarray:
    """(n, 4) float matrix: count/pass of with_tool, count/pass of no_tool; NaN where absent."""
    n = len(meta)
    out = np.full((n, 4), np.nan)
    names = {meta.type.field(i).name for i in range(meta.type.num_fields)}
    for t, tool in enumerate(TOOL_KEYS):
        key = f"reason_{mode}_{tool}"
        if key not in names:
            continue
        entry = pc.struct_field(meta, key)
        if not pa.types.is_struct(entry.type):
            out[np.asarray(pc.is_valid(entry), dtype=bool), 2 * t] = _NOT_MAPPING
            continue
        sub = {entry.type.field(i).name for i in range(entry.type.num_fields)}
        valid = np.asarray(pc.fill_null(pc.and_(pc.is_valid(meta), pc.is_valid(entry)), False), dtype=bool)
        for f, name in enumerate(_FIELDS):
            col = out[:, 2 * t + f]
            if name in sub:
                vals = pc.struct_field(entry, name)
                try:
                    num = np.asarray(pc.fill_null(vals.cast(pa.float64()), np.nan), dtype=np.float64)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    num = np.full(n, -1.0)  # not numbers: malformed
                col[valid] = num[valid]
            # a present entry without the field: NaN stays, decide() sees None -> bad metadata
            if name not in sub:
                col[valid] = -3.0
    return out


def _json_numbers(meta: pa.Array, mode: str) -> np.ndarray:
    n = len(meta)
    out = np.full((n, 4), np.nan)
    keys = [f"reason_{mode}_{tool}" for tool in TOOL_KEYS]
    for i, text in enumerate(meta.to_pylist()):
        if not text:
            continue
        try:
            md = json.loads(text)
        except ValueError:
            out[i, 0] = -1.0
            continue
        if not isinstance(md, dict):
            out[i, 0] = -1.0
            continue
        for t, key in enumerate(keys):
            e = md.get(key)
            if e is None:
                continue
            if not isinstance(e, dict):
                out[i, 2 * t] = _NOT_MAPPING
                continue
            for f, name in enumerate(_FIELDS):
                v = e.get(name)
                if v is None:
                    out[i, 2 * t + f] = -3.0
                elif isinstance(v, bool) or not isinstance(v, (int, float)):
                    out[i, 2 * t + f] = -1.0
                else:
                    out[i, 2 * t + f] = float(v) if math.isfinite(v) else -1.0
    return out


def metadata_numbers(batch: pa.RecordBatch, kind: str, mode: str) -> np.ndarray:
    meta = batch.column("metadata")
    return _struct_numbers(meta, mode) if kind == "struct" else _json_numbers(meta, mode)


def _as_metadata(combo: tuple, mode: str) -> dict:
    """The metadata mapping a combination stands for (sentinels become malformed values)."""
    md = {}
    for t, tool in enumerate(TOOL_KEYS):
        c, p = combo[2 * t], combo[2 * t + 1]
        if math.isnan(c) and math.isnan(p):
            continue
        if c == _NOT_MAPPING:
            md[f"reason_{mode}_{tool}"] = "not a mapping"
            continue

        def val(x):
            if math.isnan(x) or x == -3.0:
                return None
            return int(x) if x == int(x) else x

        md[f"reason_{mode}_{tool}"] = {"count": val(c), "pass": val(p)}
    return md


def trivial_outcomes(numbers: np.ndarray, mode: str, threshold: float, strict: bool) -> tuple[np.ndarray, np.ndarray]:
    """(removed: bool per row, note: index into NOTES per row, -1 for removed rows), with
    decide_from_metadata called once per distinct combination."""
    n = numbers.shape[0]
    removed = np.zeros(n, dtype=bool)
    note = np.zeros(n, dtype=np.int8)
    if n == 0:
        return removed, note
    key = np.where(np.isnan(numbers), -np.inf, numbers)  # np.unique cannot group NaN; inputs are finite
    uniq, inv = np.unique(key, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    rem_u = np.zeros(len(uniq), dtype=bool)
    note_u = np.zeros(len(uniq), dtype=np.int8)
    for u, row in enumerate(uniq.tolist()):
        combo = tuple(np.nan if x == -np.inf else x for x in row)
        d = decide_from_metadata({"expected_answer": "x", "metadata": _as_metadata(combo, mode)},
                                 threshold=threshold, strict=strict, mode=mode)
        rem_u[u] = d.remove
        note_u[u] = -1 if d.reason == TRIVIAL else NOTES.index(d.reason)
    return rem_u[inv], note_u[inv]
