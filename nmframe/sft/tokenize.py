"""Render and tokenize many traces, over all cores when there are many.

Tokenizing 7.5M traces of up to 128K tokens is hours on one core, so rows are rendered in
chunks by a process pool (spawned, so no tokenizer thread pool is forked). Chunks come back in
input order, so the output does not depend on the number of workers. Small inputs (fewer than
``parallel_min`` rows) are rendered in-process: starting workers would cost more than it saves.
"""
from __future__ import annotations

import collections
import multiprocessing as mp
import os
from collections.abc import Iterable, Iterator

from nmframe.sft.format import SkipTrace, render_trace, trace_record

_TOKENIZER = None
_SETTINGS: tuple = ()


def _init(tokenizer_name: str, vocab_size: int, template: str, require_finished: bool = True,
          tool_timeout_s: float | None = None) -> None:
    global _TOKENIZER, _SETTINGS
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from nmframe.models.tiny import load_tokenizer

    _TOKENIZER = load_tokenizer(tokenizer_name, vocab_size)
    _SETTINGS = (template, require_finished, tool_timeout_s)


def _render_rows(rows: list[dict]) -> list[tuple]:
    """(``"ok"``, ids, mask, meta) / (``"skip"``, reason, detail) / (``"dropped"``,) per row."""
    template, require_finished, tool_timeout_s = _SETTINGS
    out = []
    for row in rows:
        try:
            rec = trace_record(row)
            if rec is None:
                out.append(("dropped",))
                continue
            ids, mask = render_trace(rec, template, _TOKENIZER, require_finished=require_finished,
                                     tool_timeout_s=tool_timeout_s)
        except SkipTrace as exc:
            out.append(("skip", exc.reason, str(exc)))
            continue
        meta = {"problem_id": rec.problem_id, "mode": rec.mode, "tir": rec.tir, "seed": rec.seed}
        out.append(("ok", ids, mask, meta))
    return out


def _chunks(rows: Iterable[dict], size: int) -> Iterator[list[dict]]:
    buf = []
    for r in rows:
        buf.append(r)
        if len(buf) >= size:
            yield buf
            buf = []
    if buf:
        yield buf


def render_rows(rows: Iterable[dict], total: int, *, template: str, tokenizer_name: str, vocab_size: int,
                workers: int | None = None, parallel_min: int = 2000, chunk: int = 64,
                require_finished: bool = True, tool_timeout_s: float | None = None) -> Iterator[tuple]:
    """Yield one result tuple per row (see :func:`_render_rows`), in input order.

    ``rows`` is consumed lazily (streamed); ``total`` (the row count, or an estimate) decides
    between in-process and pooled rendering.
    """
    workers = workers or os.cpu_count() or 1
    if total < parallel_min or workers <= 1:
        _init(tokenizer_name, vocab_size, template, require_finished, tool_timeout_s)
        for c in _chunks(rows, chunk):
            yield from _render_rows(c)
        return
    ctx = mp.get_context("spawn")
    with ctx.Pool(workers, initializer=_init, initargs=(tokenizer_name, vocab_size, template, require_finished,
                                                              tool_timeout_s)) as pool:
        for res in pool.imap(_render_rows, _chunks(rows, chunk), chunksize=1):
            yield from res


def count_results(counter: collections.Counter, res: tuple) -> None:
    counter[res[0] if res[0] != "skip" else f"skip: {res[1]}"] += 1
