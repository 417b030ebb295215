"""Generate one shard of one (mode, tir, seed) configuration, resumably.

This is the body of a generate task without the engine around it, so that a test (or a user)
can run it in a plain process and kill it: problems already in the shard's partial file are
skipped, the rest are generated in batches of `batch_size` samples and appended as each sample
finishes, and the file is renamed to its final name only when every problem has a record.
"""
from __future__ import annotations

import collections
import hashlib
import logging
from typing import Callable, Iterable, Optional

from nmframe.generation.shards import ShardWriter
from nmframe.generation.tir import LoopSettings, SampleSpec, TirLoop, record_key

log = logging.getLogger(__name__)


def _h(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:16], 16)


def shard_of(problem_id: str, shards: int) -> int:
    """Deterministic shard of a problem (a hash of its id, independent of file order)."""
    return _h(str(problem_id)) % max(1, int(shards))


def sampling_seed(problem_id: str, mode: str, tir: bool, seed: int, base: int = 0) -> int:
    """Engine seed of one sample: distinct per (problem, mode, tir, seed), stable across runs."""
    return _h(f"{base}|{problem_id}|{mode}|{int(bool(tir))}|{seed}") % (2 ** 31)


def record_key_of(rec: dict) -> tuple:
    return record_key(rec["problem_id"], rec["mode"], rec["tir"], rec["seed"])


def open_shard(directory, name: str = "samples", fsync: bool = True) -> ShardWriter:
    return ShardWriter(directory, name, record_key_of, fsync=fsync)


def generate_shard(problems: Iterable[dict], *, mode: str, tir: bool, seed: int, backend, settings: LoopSettings,
                   writer: ShardWriter, batch_size: int = 64, seed_base: int = 0, sandbox=None,
                   progress: Optional[Callable[[int, int], None]] = None) -> dict:
    """Fill `writer` with one record per problem; finish it; return counts of this call."""
    problems = list(problems)
    specs = [SampleSpec(p, mode, tir, seed, sampling_seed(p["id"], mode, tir, seed, seed_base)) for p in problems]
    todo = [s for s in specs if s.key not in writer]
    log.info("shard %s: %d problems, %d already done, %d to generate", writer.partial.name, len(specs),
             len(specs) - len(todo), len(todo))
    loop = TirLoop(backend, settings, sandbox=sandbox if tir else None)
    try:
        for start in range(0, len(todo), max(1, batch_size)):
            loop.run(todo[start:start + batch_size], on_record=writer.append)
            if progress is not None:
                progress(min(start + batch_size, len(todo)), len(todo))
    finally:
        loop.close()
    missing = [s.key for s in specs if s.key not in writer]
    if missing:
        raise RuntimeError(f"{len(missing)} samples have no record after generation, e.g. {missing[0]}")
    writer.finish()
    return {"problems": len(specs), "resumed": len(specs) - len(todo), "generated": len(todo)}


def summarize(records: Iterable[dict]) -> dict:
    """summary.json of a shard (one pass, so a large shard is never held in memory)."""
    n = 0
    finish = collections.Counter()
    limits = collections.Counter()
    sandbox = collections.Counter()
    sums = collections.Counter()
    counts = collections.Counter()
    max_calls = 0
    error_examples: list[str] = []
    for r in records:
        n += 1
        finish[r["finish_reason"]] += 1
        if r.get("length_limit"):
            limits[r["length_limit"]] += 1
        sandbox.update(r["sandbox"])
        calls = r["num_tool_calls"]
        max_calls = max(max_calls, calls)
        counts["with_final_answer"] += r["final_answer"] is not None
        counts["finished_traces"] += bool(r["finished"])
        counts["samples_with_calls"] += calls > 0
        counts["records_with_errors"] += bool(r["errors"])
        counts["parse_issues"] += r["num_parse_issues"]
        sums["tool_calls"] += calls
        for k in ("prompt", "completion", "teacher_completion"):
            v = r["tokens"].get(k)
            if v is not None:
                sums[f"tok_{k}"] += v
                counts[f"tok_{k}"] += 1
        sums["model_s"] += r["timings"]["model_s"]
        sums["tool_s"] += r["timings"]["tool_s"]
        for e in r["errors"]:
            if len(error_examples) < 10:
                error_examples.append(f"{r['problem_id']}: {e}")

    def mean(total, count):
        return round(total / count, 3) if count else None

    return {
        "records": n,
        "finish_reason": {k: finish.get(k, 0) for k in ("stop", "length", "error")},
        "length_limit": dict(limits),
        "with_final_answer": counts["with_final_answer"],
        "finished_traces": counts["finished_traces"],
        "tool_calls": {"total": sums["tool_calls"], "mean": mean(sums["tool_calls"], n), "max": max_calls,
                       "samples_with_calls": counts["samples_with_calls"]},
        "sandbox": {k: sandbox.get(k, 0) for k in ("ok", "error", "timeout", "killed", "session_resets")},
        "tokens_mean": {k: mean(sums[f"tok_{k}"], counts[f"tok_{k}"])
                        for k in ("prompt", "completion", "teacher_completion")},
        "timings_total_s": {"model": round(sums["model_s"], 3), "tool": round(sums["tool_s"], 3)},
        "records_with_errors": counts["records_with_errors"],
        "error_examples": error_examples,
        "parse_issues": counts["parse_issues"],
    }
