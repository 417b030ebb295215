"""Benchmark: stream a synthetic released dataset (7.5M traces) through validation, the answer
and pass-rate filters, bucketing and packing, with bounded memory.

The data set has the released schema (uuid, problem, expected_answer, original_expected_answer,
changed_answer_to_majority, data_source, messages, tools, metadata, license, url) plus a
``num_tokens`` column, and the paper's mix: lengths, modes, TIR and source from
:func:`nmframe.buckets.synthetic_traces` (Table 2 buckets, Table 1 mode x TIR totals). Traces are
represented by their lengths and a few words of text, so 7.5M rows fit in a few hundred MB.
About 21 traces share each problem (347K problems) and its metadata; some problems are trivial
in low mode, a few rows have no answer, a few are longer than 128K, a few lack their uuid.
Files are named after the release's splits (high_part00..02, medium, low), several shards each,
written one row group at a time.

The stream runs in a child process, so its wall time and peak memory (ru_maxrss of the child
and its token-counting workers) are its own, not the generator's.

    python bench/bench_stream.py --rows 200000              # development size
    python bench/bench_stream.py                            # 7.5M rows (paper scale)
    python bench/bench_stream.py --phase stream --data /tmp/nmframe-bench-stream/data-7500000
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

MODES = ("high", "medium", "low")
TOOLS = ("with_tool", "no_tool")
SPLITS = {"high": ("high_part00", "high_part01", "high_part02"), "medium": ("medium",), "low": ("low",)}
N_PROBLEMS = 347_000
PAPER_ROWS = 7_500_000
EDGES = [16_384, 32_768, 65_536, 131_072]
STAGES = ["16k", "32k", "64k", "128k"]


def _problem_metadata(n_problems: int, seed: int) -> dict[str, np.ndarray]:
    """Per problem and (mode, tool): pass counts out of 8; ~4% of problems are trivial in low mode."""
    rng = np.random.default_rng(seed + 7)
    base = rng.beta(2.0, 2.5, size=n_problems)
    easy = rng.random(n_problems) < 0.04
    out = {}
    for m, boost in zip(MODES, (0.25, 0.1, 0.0)):
        for t in TOOLS:
            p = np.clip(base + boost + rng.normal(0, 0.05, n_problems), 0, 0.7)
            if m == "low":
                p = np.where(easy, 0.95, p)
            out[f"{m}_{t}"] = rng.binomial(8, p).astype(np.int64)
    return out


def _metadata_array(pid: np.ndarray, meta: dict[str, np.ndarray]) -> pa.StructArray:
    fields, arrays = [], []
    for m in MODES:
        for t in TOOLS:
            passes = meta[f"{m}_{t}"][pid]
            count = np.full(pid.size, 8, dtype=np.int64)
            arrays.append(pa.StructArray.from_arrays(
                [pa.array(count), pa.array(passes), pa.array(passes / 8.0)], ["count", "pass", "accuracy"]))
            fields.append(f"reason_{m}_{t}")
    return pa.StructArray.from_arrays(arrays, fields)


def _join(*parts) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def make_table(idx: np.ndarray, pid: np.ndarray, lengths: np.ndarray, tir: np.ndarray, source: np.ndarray,
               meta: dict[str, np.ndarray], rng: np.random.Generator) -> pa.Table:
    n = idx.size
    pid_s = pc.cast(pa.array(pid), pa.string())
    problem = _join("Synthetic problem ", pid_s, ": find the value of x.")
    answer_s = pc.cast(pa.array(pid % 997), pa.string())
    no_answer = rng.random(n) < 0.002
    expected = pc.if_else(pa.array(no_answer), pa.scalar(None, pa.string()), answer_s)
    uuid = _join("00000000-0000-4000-8000-", pc.utf8_lpad(pc.cast(pa.array(idx), pa.string()), 12, "0"))
    uuid = pc.if_else(pa.array(rng.random(n) < 0.00005), pa.scalar(None, pa.string()), uuid)
    reasoning = _join("<reasoning: ", pc.cast(pa.array(lengths), pa.string()), " tokens>")
    final = _join("The answer is \\boxed{", answer_s, "}.")
    roles = pa.array(np.tile(np.array(["user", "assistant"], dtype=object), n), pa.string())
    content = pa.array(np.column_stack([np.asarray(problem, dtype=object),
                                        np.asarray(final, dtype=object)]).reshape(-1), pa.string())
    rc = pa.array(np.column_stack([np.full(n, None, dtype=object),
                                   np.asarray(reasoning, dtype=object)]).reshape(-1), pa.string())
    msgs = pa.ListArray.from_arrays(pa.array(np.arange(0, 2 * n + 1, 2, dtype=np.int32)),
                                    pa.StructArray.from_arrays([roles, content, rc], ["role", "content", "reasoning_content"]))
    k = int(tir.sum())
    tool_items = pa.StructArray.from_arrays([pa.array(["function"] * k), pa.array(["python"] * k)], ["type", "name"])
    tools = pa.ListArray.from_arrays(pa.array(np.concatenate([[0], np.cumsum(tir.astype(np.int32))]).astype(np.int32)),
                                     tool_items)
    se = source == "stackexchange"
    url = pc.if_else(pa.array(se), _join("https://math.stackexchange.com/questions/", pid_s),
                     pa.scalar(None, pa.string()))
    return pa.table({
        "uuid": uuid, "problem": problem, "expected_answer": expected, "original_expected_answer": expected,
        "changed_answer_to_majority": pa.array(np.zeros(n, dtype=bool)),
        "data_source": pa.array(source.astype(object), pa.string()), "messages": msgs, "tools": tools,
        "metadata": _metadata_array(pid, meta),
        "license": pa.array(np.where(se, "cc-by-sa-4.0", "cc-by-4.0").astype(object), pa.string()),
        "url": url, "num_tokens": pa.array(lengths.astype(np.int32)),
    })


def generate(rows: int, out: Path, seed: int = 0, row_group: int = 100_000, shard_rows: int = 500_000) -> dict:
    from nmframe.buckets import synthetic_traces

    t0 = time.monotonic()
    tr = synthetic_traces(rows, seed)
    lengths = tr["lengths"].astype(np.int64)
    rng = np.random.default_rng(seed + 3)
    too_long = rng.random(rows) < 0.0001
    lengths[too_long] = rng.integers(131_073, 200_000, int(too_long.sum()))
    n_problems = max(1, round(N_PROBLEMS * rows / PAPER_ROWS))
    pid = rng.integers(0, n_problems, rows)
    meta = _problem_metadata(n_problems, seed)
    modes = tr["modes"].astype(str)
    source = tr["source"].astype(str)
    tir = tr["tir"]
    del tr
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    files = []
    for m in MODES:
        rows_m = np.flatnonzero(modes == m)
        splits = np.array_split(rows_m, len(SPLITS[m]))
        for split, part in zip(SPLITS[m], splits):
            shards = max(1, -(-part.size // shard_rows))
            for s, chunk in enumerate(np.array_split(part, shards)):
                path = out / f"{split}-{s:05d}-of-{shards:05d}.parquet"
                writer = None
                for a in range(0, chunk.size, row_group):
                    ix = chunk[a:a + row_group]
                    t = make_table(ix, pid[ix], lengths[ix], tir[ix], source[ix], meta, rng)
                    if writer is None:
                        writer = pq.ParquetWriter(path, t.schema, compression="zstd")
                    writer.write_table(t, row_group_size=row_group)
                if writer is not None:
                    writer.close()
                    files.append(path)
    size = sum(f.stat().st_size for f in files)
    return {"rows": rows, "files": len(files), "bytes": size, "seconds": round(time.monotonic() - t0, 1)}


def _maxrss_mb(who) -> float:
    return resource.getrusage(who).ru_maxrss / 1024.0


def run_stream_phase(data: Path, out: Path, workers: int | None, checkpoint_rows: int, batch_rows: int) -> dict:
    from nmframe.stream import StreamSettings, run_stream

    files = sorted(data.glob("*.parquet"))
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    s = StreamSettings(stage_names=STAGES, edges=EDGES, workers=workers, checkpoint_rows=checkpoint_rows,
                       batch_rows=batch_rows)
    t0 = time.monotonic()
    rep = run_stream(files, out / "result", out / "scratch", s)
    wall = time.monotonic() - t0
    return {"rows_in": rep["rows_in"], "rows_kept": rep["rows_kept"], "wall_s": round(wall, 1),
            "rows_per_s": round(rep["rows_in"] / wall), "stream_s": rep["seconds"]["stream"],
            "pack_s": {k: v.get("seconds") for k, v in rep["packing"].items()},
            "bins": {k: v.get("bins") for k, v in rep["packing"].items()},
            "per_bucket": rep["per_bucket"], "dropped_by_reason": rep["dropped_by_reason"],
            "peak_rss_mb": round(max(_maxrss_mb(resource.RUSAGE_SELF), _maxrss_mb(resource.RUSAGE_CHILDREN)), 1),
            "output_bytes": sum(f.stat().st_size for f in (out / "result").rglob("*.parquet"))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=PAPER_ROWS)
    ap.add_argument("--root", type=Path, default=Path("/tmp/nmframe-bench-stream"))
    ap.add_argument("--data", type=Path, default=None, help="data folder (default: <root>/data-<rows>)")
    ap.add_argument("--phase", choices=("all", "generate", "stream"), default="all")
    ap.add_argument("--regenerate", action="store_true", help="write the data again even if it exists")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--checkpoint-rows", type=int, default=1_000_000)
    ap.add_argument("--batch-rows", type=int, default=65_536)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    data = args.data or args.root / f"data-{args.rows}"
    if args.phase == "stream":
        res = run_stream_phase(data, args.root / f"out-{data.name}", args.workers, args.checkpoint_rows, args.batch_rows)
        print(json.dumps(res))
        return 0
    if args.regenerate or not (data / "done.json").exists():
        info = generate(args.rows, data, args.seed)
        (data / "done.json").write_text(json.dumps(info))
        print(f"generated {info['rows']:,} rows in {info['files']} files, {info['bytes'] / 1e6:.0f} MB, "
              f"{info['seconds']} s -> {data}", flush=True)
    if args.phase == "generate":
        return 0
    cmd = [sys.executable, __file__, "--phase", "stream", "--data", str(data), "--root", str(args.root),
           "--checkpoint-rows", str(args.checkpoint_rows), "--batch-rows", str(args.batch_rows)]
    if args.workers:
        cmd += ["--workers", str(args.workers)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        return proc.returncode
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    child_peak = _maxrss_mb(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()
    print(f"stream: {res['rows_in']:,} rows in {res['wall_s']} s ({res['rows_per_s']:,} rows/s), "
          f"{res['rows_kept']:,} kept; peak RSS {res['peak_rss_mb']:.0f} MB (child tree {child_peak:.0f} MB); "
          f"load average {load[0]:.1f} on {os.cpu_count()} cores")
    print(f"  per bucket: {res['per_bucket']}")
    print(f"  bins: {res['bins']}  pack seconds: {res['pack_s']}")
    print(f"  dropped: {res['dropped_by_reason']}")
    print(f"  output: {res['output_bytes'] / 1e6:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
