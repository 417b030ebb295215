"""Released files as record batches, Parquet or JSONL, read in resumable parts.

The release's dataset card lists JSONL splits (``data/high.part_00.jsonl`` ...
``medium.jsonl``, ``low.jsonl``); converted copies are often Parquet. Both are read here
behind one interface, so the stream runner does not care which:

* ``schema``: the Arrow schema of the batches;
* ``parts(checkpoint_rows)``: ``(start, end, rows)`` ranges of at least ``checkpoint_rows``
  rows (whole row groups for Parquet, line ranges for JSONL), the unit of resumption;
* ``batches(part, batch_rows, columns)``: the part's rows as record batches.

JSONL rows are parsed with :mod:`json`; nested values (``messages``, ``tools``,
``metadata``) become JSON strings, which every reader downstream accepts, so a row whose
messages carry keys the first rows did not have loses nothing. A line that is not a JSON
object is an error naming the file and line.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

SUFFIXES = (".parquet", ".jsonl", ".json")
_SCHEMA_LINES = 1000  # JSONL: columns are the keys of the first rows


class ParquetSource:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._pf = pq.ParquetFile(self.path)
        self.schema = self._pf.schema_arrow

    def parts(self, checkpoint_rows: int) -> list[tuple[int, int, int]]:
        meta = self._pf.metadata
        parts, start, rows = [], 0, 0
        for rg in range(meta.num_row_groups):
            rows += meta.row_group(rg).num_rows
            if rows >= max(1, checkpoint_rows):
                parts.append((start, rg + 1, rows))
                start, rows = rg + 1, 0
        if start < meta.num_row_groups:
            parts.append((start, meta.num_row_groups, rows))
        return parts

    def batches(self, part: tuple[int, int, int], batch_rows: int,
                columns: Sequence[str] | None) -> Iterator[pa.RecordBatch]:
        a, b, _ = part
        yield from pq.ParquetFile(self.path).iter_batches(batch_size=batch_rows, row_groups=list(range(a, b)),
                                                          columns=list(columns) if columns else None)


def _arrow_type(value) -> pa.DataType:
    if isinstance(value, bool):
        return pa.bool_()
    if isinstance(value, int):
        return pa.int64()
    if isinstance(value, float):
        return pa.float64()
    return pa.string()  # strings, and nested values as JSON text


class JsonlSource:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._offsets: list[int] = []  # byte offset of each line that holds a row
        self._lines: list[int] = []    # its 1-based line number, for error messages
        types: dict[str, pa.DataType] = {}
        with open(self.path, "rb") as f:
            pos = 0
            for lineno, raw in enumerate(f, 1):
                if raw.strip():
                    self._offsets.append(pos)
                    self._lines.append(lineno)
                    if len(self._offsets) <= _SCHEMA_LINES:
                        for k, v in self._row(raw, lineno).items():
                            if v is not None and (k not in types or types[k] == pa.null()):
                                types[k] = _arrow_type(v)
                            types.setdefault(k, pa.null())
                pos += len(raw)
        self.schema = pa.schema([(k, pa.string() if t == pa.null() else t) for k, t in types.items()])

    def _row(self, raw: bytes, lineno: int) -> dict:
        try:
            row = json.loads(raw)
        except ValueError as exc:
            raise ValueError(f"{self.path}:{lineno}: not a JSON line ({exc})") from None
        if not isinstance(row, dict):
            raise ValueError(f"{self.path}:{lineno}: a row must be a JSON object, got {type(row).__name__}")
        return row

    def parts(self, checkpoint_rows: int) -> list[tuple[int, int, int]]:
        n, step = len(self._offsets), max(1, checkpoint_rows)
        return [(a, min(a + step, n), min(a + step, n) - a) for a in range(0, n, step)]

    def _column(self, name: str, typ: pa.DataType, values: list) -> pa.Array:
        if typ == pa.string():
            values = [v if v is None or isinstance(v, str) else json.dumps(v, ensure_ascii=False) for v in values]
        try:
            return pa.array(values, type=typ)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            raise ValueError(f"{self.path}: column {name!r} holds a value that is not {typ}, the type its first "
                             f"rows have") from None

    def batches(self, part: tuple[int, int, int], batch_rows: int,
                columns: Sequence[str] | None) -> Iterator[pa.RecordBatch]:
        a, b, _ = part
        fields = [f for f in self.schema if not columns or f.name in columns]
        with open(self.path, "rb") as f:
            if a < len(self._offsets):
                f.seek(self._offsets[a])
            i = a
            while i < b:
                rows = []
                while i < b and len(rows) < batch_rows:
                    raw = f.readline()
                    if not raw.strip():
                        continue
                    rows.append(self._row(raw, self._lines[i]))
                    i += 1
                arrays = [self._column(fl.name, fl.type, [r.get(fl.name) for r in rows]) for fl in fields]
                yield pa.RecordBatch.from_arrays(arrays, names=[fl.name for fl in fields])


def open_source(path: Path) -> ParquetSource | JsonlSource:
    """The reader for ``path`` by its suffix (Parquet, or JSONL)."""
    suffix = Path(path).suffix
    if suffix == ".parquet":
        return ParquetSource(path)
    if suffix in (".jsonl", ".json"):
        return JsonlSource(path)
    raise ValueError(f"{path}: stream_released reads Parquet or JSONL files ({', '.join(SUFFIXES)})")
