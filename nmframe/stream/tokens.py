"""Trace lengths in the student's tokens: a length column when the rows have one, else counted.

Counting renders each trace's chat messages (and tool declarations of TIR traces) with the
student tokenizer's chat template and takes the number of ids: the length the trace has in
training with ``sft.template=chat``. Millions of long traces take hours on one core, so batches
are split over worker processes (spawned: no tokenizer thread pool is forked), each loading the
tokenizer once. A row that cannot be rendered gets length -1 and is dropped as "tokenize error"
(counted), never guessed.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_TOKENIZER = None


def column_lengths(batch: pa.RecordBatch, column: str) -> np.ndarray:
    """int64 lengths from a column; null, NaN, fractional or < 1 -> 0 (dropped as "no length")."""
    col = batch.column(column)
    if pa.types.is_floating(col.type):
        arr = np.asarray(pc.fill_null(col, 0.0), dtype=np.float64)
        ok = np.isfinite(arr) & (arr == np.floor(arr))
        out = np.where(ok, arr, 0).astype(np.int64)
    else:
        out = np.array(pc.fill_null(col.cast(pa.int64()), 0), dtype=np.int64)
    out[out < 1] = 0
    return out


def _init(name: str, vocab_size: int) -> None:
    global _TOKENIZER
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from nmframe.models.tiny import load_tokenizer

    _TOKENIZER = load_tokenizer(name, vocab_size)


def _tools(value: Any) -> list | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else None
    if value is None:
        return None
    return list(value) or None


def _messages(value: Any) -> list:
    if isinstance(value, str):
        value = json.loads(value)
    out = []
    for m in value:
        d = {k: v for k, v in dict(m).items() if v is not None}
        tc = d.get("tool_calls")
        if isinstance(tc, str):
            d["tool_calls"] = json.loads(tc) if tc.strip() else None
        out.append(d)
    return out


def count_rows(rows: list[tuple[Any, Any]]) -> list[int]:
    """Token count of each (messages, tools) pair with the loaded tokenizer; -1 if it fails."""
    tok = _TOKENIZER
    out = []
    for messages, tools in rows:
        try:
            ids = tok.apply_chat_template(_messages(messages), tools=_tools(tools), tokenize=True)
            if isinstance(ids, dict) or hasattr(ids, "input_ids"):
                ids = ids["input_ids"]
            out.append(len(ids))
        except Exception:  # noqa: BLE001 - a row that does not render is counted, not fatal
            out.append(-1)
    return out


class TokenCounter:
    """Counts tokens of record batches over ``workers`` processes (in-process when 1)."""

    def __init__(self, tokenizer: str, vocab_size: int, workers: int | None = None):
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.args = (tokenizer, int(vocab_size))
        self.pool = None
        if self.workers > 1:
            self.pool = mp.get_context("spawn").Pool(self.workers, initializer=_init, initargs=self.args)
        else:
            _init(*self.args)

    def lengths(self, batch: pa.RecordBatch) -> np.ndarray:
        msgs = batch.column("messages").to_pylist()
        tools = batch.column("tools").to_pylist() if "tools" in batch.schema.names else [None] * len(msgs)
        rows = list(zip(msgs, tools))
        if self.pool is None:
            return np.asarray(count_rows(rows), dtype=np.int64)
        size = max(1, -(-len(rows) // (self.workers * 4)))
        chunks = [rows[i:i + size] for i in range(0, len(rows), size)]
        out: list[int] = []
        for part in self.pool.imap(count_rows, chunks):
            out.extend(part)
        return np.asarray(out, dtype=np.int64)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool.join()
            self.pool = None
