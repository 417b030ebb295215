"""Finding and reading row files (JSONL, Parquet) without ever hiding a bad line.

`iter_rows` yields `(line_number, row_or_None, error_or_None)` so callers count and report every
malformed line with its file:line instead of crashing or silently dropping it. `pkg://` paths
name data shipped inside the package (nmframe/data/).
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
from pathlib import Path
from typing import Iterator

PKG_DATA = Path(__file__).resolve().parent / "data"
ROW_SUFFIXES = (".jsonl", ".json", ".parquet")
HASH_CONTENT_MAX_BYTES = 64 << 20  # larger files are identified by size + mtime (hashing costs minutes)


def resolve(path: str) -> list[Path]:
    """A file, a directory (its row files, recursively, sorted), a glob, or pkg://relative."""
    if path.startswith("pkg://"):
        path = str(PKG_DATA / path[len("pkg://"):])
    p = Path(os.path.expanduser(path))
    if p.is_dir():
        return sorted(f for f in p.rglob("*") if f.is_file() and f.suffix in ROW_SUFFIXES)
    if any(ch in path for ch in "*?["):
        return sorted(Path(f) for f in glob.glob(path, recursive=True) if Path(f).is_file())
    return [p] if p.exists() else []


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's content, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fingerprint(path: Path) -> str:
    """Content hash for files up to 64 MiB; size and mtime beyond (documented trade-off)."""
    st = path.stat()
    if st.st_size > HASH_CONTENT_MAX_BYTES:
        return f"stat:{st.st_size}:{st.st_mtime_ns}"
    return "sha256:" + sha256_file(path)[:32]


def detect_format(path: Path, fmt: str = "auto") -> str:
    if fmt != "auto":
        return fmt
    return "parquet" if path.suffix == ".parquet" else "jsonl"


def iter_rows(path: Path, fmt: str = "auto") -> Iterator[tuple[int, dict | None, str | None]]:
    fmt = detect_format(path, fmt)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        line = 0
        for batch in pq.ParquetFile(path).iter_batches(batch_size=4096):
            for row in batch.to_pylist():
                line += 1
                yield line, row, None
        return
    with open(path, "rb") as f:
        for line_no, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                yield line_no, None, f"malformed JSON ({exc.__class__.__name__}: {str(exc)[:80]})"
                continue
            except ValueError as exc:  # an integer too long to convert (over 4300 digits)
                yield line_no, None, f"unreadable JSON value ({str(exc).split(':')[0][:80]})"
                continue
            if not isinstance(row, dict):
                yield line_no, None, f"expected a JSON object, got {type(row).__name__}"
                continue
            yield line_no, row, None


def write_jsonl(path: Path, rows) -> int:
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]
