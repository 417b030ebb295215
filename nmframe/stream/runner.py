"""The streaming loop: released Parquet files in, per-bucket Parquet files and packed bins out.

For each part (whole row groups of one file, see :mod:`.checkpoint`) record batches of
``batch_rows`` rows are read, validated, filtered, measured and bucketed with column-wise
operations; the kept rows get ``mode``, ``tir`` and ``num_tokens`` columns and are appended to
the part's per-bucket file with a ``ParquetWriter``. Memory is bounded by one batch plus the
writers' buffers, whatever the input size. At the end each bucket is packed into bins of its
``max_len`` from its ``num_tokens`` column alone (7.5M int32 lengths are 30 MB), and the parts
are linked into the output folder:

    buckets/<stage>/part-<file>-<rowgroup>.parquet   kept rows of the bucket, input order
    packing/<stage>.parquet                          bin, index (row of the bucket's parts in order)
    summary.json, report.txt                         counts per source x mode x tir x bucket, drops

Drop reasons, first match wins, in this order: ``invalid: missing <field>``, ``unknown mode``,
``excluded data_source``, ``excluded mode``, ``excluded tir``, ``no expected_answer``,
``changed answer``, ``trivial``, ``no length``, ``tokenize error``, ``too long``.
"""
from __future__ import annotations

import json
import logging
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from nmframe.buckets import assign_buckets
from nmframe.progress import track

from .checkpoint import Progress
from .released import (
    MODES,
    REQUIRED_COLUMNS,
    REQUIRED_VALUES,
    check_schema,
    derived_ids,
    missing_values,
    mode_of_path,
    row_modes,
    tir_flags,
)
from .rowfilter import (
    NOTES,
    changed_answer,
    has_answer,
    metadata_numbers,
    trivial_outcomes,
)
from .sources import SUFFIXES, JsonlSource, ParquetSource, open_source
from .summary import EXCLUDED_DATA_SOURCE, Summary, excluded_lines
from .tokens import TokenCounter, column_lengths

ReleasedSource = ParquetSource | JsonlSource

REASONS = ("kept", *(f"invalid: missing {c}" for c in REQUIRED_VALUES), "unknown mode", EXCLUDED_DATA_SOURCE,
           "excluded mode", "excluded tir", "no expected_answer", "changed answer", "trivial", "no length",
           "tokenize error", "too long")
_R = {r: i for i, r in enumerate(REASONS)}
LENGTH_OUT = "num_tokens"


@dataclass
class StreamSettings:
    stage_names: list[str]
    edges: list[int]
    length_column: str | None = "auto"
    drop_no_answer: bool = True
    drop_trivial: bool = True
    drop_changed_answer: bool = False
    trivial_threshold: float = 0.8
    trivial_strict: bool = True
    trivial_mode: str = "low"
    include_modes: list[str] = field(default_factory=list)
    include_tir: list[bool] = field(default_factory=list)
    include_data_sources: list[str] = field(default_factory=list)
    batch_rows: int = 65536
    checkpoint_rows: int = 1_000_000
    tokenizer: str = "builtin:tiny"
    vocab_size: int = 512
    workers: int | None = None
    pack: bool = True
    pack_multiple: int = 1
    keep_columns: list[str] = field(default_factory=list)
    compression: str = "zstd"

    def __post_init__(self) -> None:
        if len(self.stage_names) != len(self.edges) or not self.edges:
            raise ValueError("stage_names and edges must be non-empty and of the same length")
        bad = sorted(set(self.include_modes) - set(MODES))
        if bad:
            raise ValueError(f"stream.include_modes has unknown modes {bad}; known: {list(MODES)}")
        if self.batch_rows < 1 or self.pack_multiple < 1:
            raise ValueError("stream.batch_rows and stream.pack_multiple must be >= 1")

    def key(self) -> str:
        """What decides the output (not speed knobs: batch size, workers)."""
        d = asdict(self)
        for k in ("batch_rows", "workers"):
            d.pop(k)
        return json.dumps(d, sort_keys=True)


class _Batcher:
    """Decides, counts and splits one record batch (the per-file facts are fixed)."""

    def __init__(self, s: StreamSettings, info: dict, file_mode: str | None, names: dict[str, int],
                 counter_factory: Callable[[], TokenCounter]):
        self.s, self.info, self.file_mode, self.names = s, info, file_mode, names
        self.counter_factory = counter_factory
        self.edges = np.asarray(s.edges, dtype=np.int64)
        self.include_ds = set(s.include_data_sources)

    def _sources(self, batch: pa.RecordBatch) -> np.ndarray:
        col = batch.column("data_source")
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            col = col.cast(pa.string())
        enc = pc.dictionary_encode(col)
        local = np.asarray([self.names.setdefault(v, len(self.names)) for v in enc.dictionary.to_pylist()]
                           + [self.names.setdefault("unknown", len(self.names))], dtype=np.int64)
        idx = np.asarray(pc.fill_null(enc.indices, len(local) - 1), dtype=np.int64)
        return local[idx]

    def process(self, batch: pa.RecordBatch, summ: Summary) -> tuple[pa.Table | None, np.ndarray]:
        """(kept rows sorted by bucket with the added columns, rows per bucket)."""
        if not self.info["uuid_column"]:
            batch = batch.append_column("uuid", derived_ids(batch))
        s, n = self.s, batch.num_rows
        reason = missing_values(batch).astype(np.int16)  # 1..4 line up with REASONS
        mode = row_modes(batch, self.info, self.file_mode)
        reason[(reason == 0) & (mode < 0)] = _R["unknown mode"]
        tir = tir_flags(batch, self.info)
        ds = self._sources(batch)

        def drop(mask: np.ndarray, why: str) -> None:
            reason[(reason == 0) & mask] = _R[why]

        if self.include_ds:
            allowed = np.asarray([name in self.include_ds for name, _ in sorted(self.names.items(), key=lambda x: x[1])])
            drop(~allowed[ds], EXCLUDED_DATA_SOURCE)
        if s.include_modes:
            ok = np.isin(mode, [MODES.index(m) for m in s.include_modes])
            drop(~ok, "excluded mode")
        if s.include_tir:
            ok = np.isin(tir, [bool(t) for t in s.include_tir])
            drop(~ok, "excluded tir")
        if s.drop_no_answer:
            drop(~has_answer(batch), "no expected_answer")
        if s.drop_changed_answer:
            drop(changed_answer(batch), "changed answer")
        note = np.zeros(n, dtype=np.int8)
        if s.drop_trivial:
            numbers = metadata_numbers(batch, self.info["metadata_kind"], s.trivial_mode)
            removed, note = trivial_outcomes(numbers, s.trivial_mode, s.trivial_threshold, s.trivial_strict)
            drop(removed, "trivial")
        if self.info["length_column"]:
            lengths = column_lengths(batch, self.info["length_column"])
            drop(lengths < 1, "no length")
        else:
            alive = reason == 0
            lengths = np.zeros(n, dtype=np.int64)
            if alive.any():
                lengths[alive] = self.counter_factory().lengths(batch.filter(pa.array(alive)))
            drop(lengths < 0, "tokenize error")
            drop(alive & (lengths == 0), "no length")
        padded = lengths if s.pack_multiple == 1 else -(-lengths // s.pack_multiple) * s.pack_multiple
        bucket = assign_buckets(np.maximum(padded, 0), self.edges)
        drop(bucket < 0, "too long")

        kept = reason == 0
        summ.rows_in += n
        if (~kept).any():
            code = reason[~kept].astype(np.int64) * (len(self.names) + 1) + ds[~kept]
            for c, cnt in zip(*np.unique(code, return_counts=True)):
                r, d = divmod(int(c), len(self.names) + 1)
                summ.dropped[(REASONS[r], self._name(d))] += int(cnt)
        note_k = note[kept]
        if (note_k > 0).any():
            code = note_k.astype(np.int64) * (len(self.names) + 1) + ds[kept]
            for c, cnt in zip(*np.unique(code[note_k > 0], return_counts=True)):
                k, d = divmod(int(c), len(self.names) + 1)
                summ.notes[(NOTES[k], self._name(d))] += int(cnt)
        per_bucket = np.zeros(len(s.edges), dtype=np.int64)
        if not kept.any():
            return None, per_bucket
        nb = len(s.edges)
        code = ((ds[kept] * 3 + mode[kept]) * 2 + tir[kept]) * nb + bucket[kept]
        uniq, inv, cnts = np.unique(code, return_inverse=True, return_counts=True)
        toks = np.bincount(inv.reshape(-1), weights=lengths[kept], minlength=len(uniq))
        for c, cnt, tk in zip(uniq.tolist(), cnts.tolist(), toks.tolist()):
            rest, b = divmod(c, nb)
            rest, t = divmod(rest, 2)
            d, m = divmod(rest, 3)
            key = (self._name(d), MODES[m], bool(t), s.stage_names[b])
            summ.kept[key] += int(cnt)
            summ.tokens[key] += int(tk)
        idx = np.flatnonzero(kept)
        order = idx[np.argsort(bucket[idx], kind="stable")]
        per_bucket = np.bincount(bucket[order], minlength=nb)
        table = pa.Table.from_batches([batch]).take(pa.array(order))
        extra = {"mode": pa.array(np.asarray(MODES, dtype=object)[mode[order]].tolist(), pa.string()),
                 "tir": pa.array(tir[order], pa.bool_()),
                 LENGTH_OUT: pa.array(lengths[order].astype(np.int32), pa.int32())}
        for name, arr in extra.items():
            i = table.schema.get_field_index(name)
            table = table.set_column(i, name, arr) if i >= 0 else table.append_column(name, arr)
        return table, per_bucket

    def _name(self, code: int) -> str:
        for k, v in self.names.items():
            if v == code:
                return k
        return "unknown"


def _read_columns(source: ReleasedSource, info: dict, keep: list[str]) -> list[str] | None:
    if not keep:
        return None
    names = source.schema.names
    missing = [c for c in keep if c not in names]
    if missing:
        raise ValueError(f"stream.keep_columns {missing} are not columns of {source.path}")
    need = [*REQUIRED_COLUMNS, "uuid", "tools", "changed_answer_to_majority", info["mode_column"], info["tir_column"],
            info["length_column"], *keep]
    return [c for c in dict.fromkeys(need) if c and c in names]


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def pack_bucket(files: list[Path], capacity: int, multiple: int, out: Path) -> dict:
    """Pack one bucket from its parts' ``num_tokens`` columns; writes ``out`` (bin, index)."""
    from nmframe.packing import pack, packing_summary

    parts = [pq.read_table(f, columns=[LENGTH_OUT]).column(0).to_numpy() for f in files]
    lengths = np.concatenate(parts).astype(np.int32) if parts else np.zeros(0, dtype=np.int32)
    bins = pack(lengths, capacity, multiple=multiple)
    sizes = np.fromiter((len(b) for b in bins), dtype=np.int64, count=len(bins))
    index = np.fromiter((i for b in bins for i in b), dtype=np.int64, count=int(sizes.sum()))
    bin_id = np.repeat(np.arange(len(bins), dtype=np.int32), sizes)
    out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"bin": bin_id, "index": index}), out, compression="zstd")
    summ = packing_summary(lengths, bins, capacity) if len(bins) else {"items": 0, "bins": 0}
    summ["capacity"] = capacity
    return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in summ.items()}


def run_stream(files: list[Path], out_dir: Path, scratch: Path, s: StreamSettings,
               log: logging.Logger | None = None) -> dict:
    """Stream ``files`` into ``out_dir`` (resuming from ``scratch``); returns the summary dict."""
    log = log or logging.getLogger("nmframe.stream")
    t0 = time.monotonic()
    files = [Path(f) for f in files]
    if not files:
        raise ValueError("no input files to stream")
    bad = [str(f) for f in files if f.suffix not in SUFFIXES]
    if bad:
        raise ValueError(f"stream_released reads Parquet or JSONL files ({', '.join(SUFFIXES)}); got {bad[:3]}")
    plans = []
    for fi, f in enumerate(files):
        source = open_source(f)
        info = check_schema(source.schema, f, s.length_column)
        plans.append((fi, source, info, source.parts(s.checkpoint_rows)))
    progress = Progress(scratch, files, s.key(), log)
    if progress.resumed:
        log.info("stream: resuming, %d part(s) already done", progress.resumed)
    total = Summary()
    names: dict[str, int] = {}
    counter: list[TokenCounter] = []

    def counter_factory() -> TokenCounter:
        if not counter:
            counter.append(TokenCounter(s.tokenizer, s.vocab_size, s.workers))
        return counter[0]

    try:
        for fi, source, info, parts in plans:
            file_mode = mode_of_path(source.path)
            batcher = _Batcher(s, info, file_mode, names, counter_factory)
            for part in parts:
                pid = Progress.part_id(fi, part[0])
                if progress.done(pid):
                    total.merge(Summary.from_json(progress.parts[pid]["summary"]))
                    continue
                total.merge(_run_part(source, fi, part, info, batcher, progress, s))
    finally:
        for c in counter:
            c.close()
    stream_s = time.monotonic() - t0
    out_dir = Path(out_dir)
    report = total.report(s.stage_names)
    report["packing"] = {}
    report["parts"] = {}
    for b, stage in enumerate(s.stage_names):
        rels = [p["outputs"][stage]["file"] for _, p in sorted(progress.parts.items()) if stage in p["outputs"]]
        srcs = [progress.dir / r for r in rels]
        dsts = [out_dir / "buckets" / stage / Path(r).name for r in rels]
        for a, d in zip(srcs, dsts):
            _link(a, d)
        report["parts"][stage] = [str(d.relative_to(out_dir)) for d in dsts]
        if s.pack:
            t = time.monotonic()
            report["packing"][stage] = pack_bucket(dsts, s.edges[b], s.pack_multiple,
                                                   out_dir / "packing" / f"{stage}.parquet")
            report["packing"][stage]["seconds"] = round(time.monotonic() - t, 3)
    report["resumed_parts"] = progress.resumed
    report["seconds"] = {"stream": round(stream_s, 3), "total": round(time.monotonic() - t0, 3)}
    report["settings"] = json.loads(s.key())
    (out_dir / "summary.json").write_text(json.dumps(report, indent=2) + "\n")
    (out_dir / "report.txt").write_text(total.format_table(s.stage_names) + "\n")
    progress.clear()
    log.info("stream: %d rows in, %d kept, %d dropped (%s)", total.rows_in, total.rows_kept, total.rows_dropped,
             report["dropped_by_reason"])
    for line in excluded_lines(report["excluded_data_sources"]):
        log.warning("stream: %s", line)
    return report


def _run_part(source: ReleasedSource, fi: int, part: tuple[int, int, int], info: dict, batcher: _Batcher,
              progress: Progress, s: StreamSettings) -> Summary:
    """Stream one part (row groups, or JSONL lines [a, b)) into per-bucket Parquet parts."""
    f, (rg_a, rg_b, rows) = source.path, part
    cols = _read_columns(source, info, s.keep_columns)
    summ = Summary()
    pid = Progress.part_id(fi, rg_a)
    writers: dict[int, pq.ParquetWriter] = {}
    paths: dict[int, Path] = {}
    counts = np.zeros(len(s.edges), dtype=np.int64)
    batches = source.batches(part, s.batch_rows, cols)
    try:
        for batch in track(batches, f"stream {f.name} [{rg_a}:{rg_b})", total=math.ceil(rows / s.batch_rows)):
            table, per_bucket = batcher.process(batch, summ)
            if table is None:
                continue
            start = 0
            for b, k in enumerate(per_bucket.tolist()):
                if not k:
                    continue
                if b not in writers:
                    paths[b] = progress.dir / "parts" / s.stage_names[b] / f"part-{pid}.parquet"
                    paths[b].parent.mkdir(parents=True, exist_ok=True)
                    writers[b] = pq.ParquetWriter(str(paths[b]) + ".tmp", table.schema, compression=s.compression)
                writers[b].write_table(table.slice(start, k))
                start += k
            counts += per_bucket
    finally:
        for w in writers.values():
            w.close()
    outputs = {}
    for b, p in paths.items():
        os.replace(str(p) + ".tmp", p)
        outputs[s.stage_names[b]] = {"file": str(p.relative_to(progress.dir)), "rows": int(counts[b])}
    progress.record(pid, {"file": str(f), "row_groups": [rg_a, rg_b], "rows": rows, "outputs": outputs,
                          "summary": summ.to_json()})
    return summ
