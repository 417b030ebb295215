"""The released dataset's row schema, checked per file, and the per-row facts a stream needs.

Columns of nvidia/Nemotron-Math-v2: problem, expected_answer, original_expected_answer,
changed_answer_to_majority, data_source, messages, tools, metadata, license, uuid, url. A row
carries no reasoning mode: the split does (high_part00..02, medium, low), so the mode comes from
the file's name (or a ``mode`` column when a converted copy has one). TIR: ``tools`` non-empty.

A file that lacks a required column, or whose mode cannot be told, is an error naming the file
(a config mistake, not bad rows); a row that lacks a required value is dropped and counted with
its reason. A file without a ``uuid`` column (the high splits' schema lists none) gets ids
derived from each row's problem and messages (:func:`derived_ids`): the same row has the same id
in every run and in either file format.
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

MODES = ("high", "medium", "low")
REQUIRED_COLUMNS = ("problem", "expected_answer", "data_source", "messages", "metadata")
#: Required values, checked in this order; the first missing one is the drop reason.
REQUIRED_VALUES = ("uuid", "problem", "data_source", "messages")
#: Columns taken as the trace length in tokens when ``stream.length_column`` is ``auto``.
LENGTH_CANDIDATES = ("num_tokens", "length", "n_tokens", "token_count", "total_tokens")
_WORD = re.compile(r"[a-z]+")


class StreamSchemaError(ValueError):
    """A file that cannot be streamed as released rows (the message names the file and why)."""


def mode_of_path(path: str | Path) -> str | None:
    """The reasoning mode a split's file name says (``high_part01-00003-of-00010.parquet``,
    ``medium/...``), looking at the file stem first, then its folders; None if none says."""
    p = Path(path)
    for part in [p.stem, *reversed(p.parent.parts)]:
        found = [w for w in _WORD.findall(part.lower()) if w in MODES]
        if len(set(found)) == 1:
            return found[0]
        if len(set(found)) > 1:
            return None
    return None


def check_schema(schema: pa.Schema, path: Path, length_column: str | None) -> dict:
    """What the file offers: ``{"mode_column", "tir_column", "tools", "length_column",
    "metadata_kind"}``; raises StreamSchemaError for a missing column or an unusable mode."""
    names = set(schema.names)
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise StreamSchemaError(f"{path}: missing required column(s) {missing} of the released schema "
                                f"(has: {', '.join(schema.names)})")
    mode_col = "mode" if "mode" in names else ("reasoning_effort" if "reasoning_effort" in names else None)
    if mode_col is None and mode_of_path(path) is None:
        raise StreamSchemaError(f"{path}: cannot tell the reasoning mode: name the file after its split "
                                "(high_part00, medium, low) or add a 'mode' column")
    tir_col = "tir" if "tir" in names else None
    if tir_col is None and "tools" not in names:
        raise StreamSchemaError(f"{path}: no 'tools' column (nor 'tir'), so TIR traces cannot be told apart")
    if length_column == "auto":
        length_column = next((c for c in LENGTH_CANDIDATES if c in names), None)
    elif length_column is not None and length_column not in names:
        raise StreamSchemaError(f"{path}: stream.length_column={length_column!r} is not a column "
                                f"(has: {', '.join(schema.names)}); use auto or null to count tokens")
    if length_column is not None and not pa.types.is_integer(schema.field(length_column).type) \
            and not pa.types.is_floating(schema.field(length_column).type):
        raise StreamSchemaError(f"{path}: length column {length_column!r} is {schema.field(length_column).type}, "
                                "not a number")
    mtype = schema.field("metadata").type
    kind = "struct" if pa.types.is_struct(mtype) else "string" if (pa.types.is_string(mtype) or
                                                                    pa.types.is_large_string(mtype)) else None
    if kind is None:
        raise StreamSchemaError(f"{path}: column 'metadata' is {mtype}; expected a struct or a JSON string")
    return {"mode_column": mode_col, "tir_column": tir_col, "tools": "tools" in names,
            "length_column": length_column, "metadata_kind": kind, "uuid_column": "uuid" in names}


def _canonical(value):
    """A nested value with null entries dropped and JSON text parsed, so that a Parquet struct
    (absent keys read back as null) and the JSONL line it came from serialise alike."""
    if isinstance(value, str):
        s = value.strip()
        if s[:1] in ("[", "{"):
            try:
                return _canonical(json.loads(s))
            except ValueError:
                return value
        return value
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value


def derived_ids(batch: pa.RecordBatch) -> pa.Array:
    """A stable id per row (``nm-`` + 32 hex digits of sha256 over problem and messages), for
    files without a ``uuid`` column."""
    out = []
    for problem, messages in zip(batch.column("problem").to_pylist(), batch.column("messages").to_pylist()):
        text = json.dumps([problem, _canonical(messages)], sort_keys=True, ensure_ascii=False,
                          separators=(",", ":"))
        out.append("nm-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32])
    return pa.array(out, pa.string())


def _present(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """True where a value is there: not null, and non-empty for strings and lists."""
    t = col.type
    ok = pc.is_valid(col)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        ok = pc.and_(ok, pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(col)), 0))
    elif pa.types.is_list(t) or pa.types.is_large_list(t):
        ok = pc.and_(ok, pc.greater(pc.list_value_length(col), 0))
    return np.asarray(pc.fill_null(ok, False), dtype=bool)


def missing_values(batch: pa.RecordBatch) -> np.ndarray:
    """Per row: 0 if every required value is there, else 1 + index in REQUIRED_VALUES of the first missing."""
    out = np.zeros(batch.num_rows, dtype=np.int8)
    for i, name in enumerate(REQUIRED_VALUES):
        bad = ~_present(batch.column(name)) & (out == 0)
        out[bad] = i + 1
    return out


def tir_flags(batch: pa.RecordBatch, info: dict) -> np.ndarray:
    """TIR per row: the ``tir`` column, else ``tools`` non-empty (list, or a JSON string that is
    not empty, ``[]`` or ``null``)."""
    if info["tir_column"]:
        return np.asarray(pc.fill_null(batch.column(info["tir_column"]).cast(pa.bool_()), False), dtype=bool)
    col = batch.column("tools")
    t = col.type
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return np.asarray(pc.fill_null(pc.greater(pc.list_value_length(col), 0), False), dtype=bool)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        s = pc.utf8_trim_whitespace(col)
        empty = pc.or_(pc.equal(s, ""), pc.or_(pc.equal(s, "[]"), pc.equal(s, "null")))
        return np.asarray(pc.fill_null(pc.invert(empty), False), dtype=bool)
    raise StreamSchemaError(f"column 'tools' is {t}; expected a list or a JSON string")


def row_modes(batch: pa.RecordBatch, info: dict, file_mode: str | None) -> np.ndarray:
    """Mode code per row (index into MODES), -1 where the row's mode column holds something else."""
    if not info["mode_column"]:
        return np.full(batch.num_rows, MODES.index(file_mode), dtype=np.int8)
    col = pc.utf8_lower(pc.utf8_trim_whitespace(batch.column(info["mode_column"]).cast(pa.string())))
    idx = pc.index_in(col, value_set=pa.array(MODES))
    arr = np.array(pc.fill_null(idx, -1), dtype=np.int8)
    if file_mode is not None:  # a row without a mode value falls back to its file's
        arr[np.asarray(pc.is_null(batch.column(info["mode_column"])), dtype=bool)] = MODES.index(file_mode)
    return arr
