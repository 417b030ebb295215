"""Resumable JSONL shards: append record by record, survive SIGKILL, mark done by rename.

A generate task writes `<dir>/<name>.partial.jsonl`, one record per line, flushed and fsynced
after each record (`fsync=False` for speed where the data can be regenerated). When the task is
killed and restarted, the partial file is read back:

* a torn last line (no newline, or unreadable JSON at the very end: a write cut by the kill) is
  truncated away and logged;
* an unreadable line anywhere else is damage the writer cannot have caused: `ShardError` names
  `file:line` and the run stops rather than guess;
* records already present are skipped (keyed by `key_fn`, e.g. problem id, mode, tir, seed).

`finish()` fsyncs and renames the partial file to `<name>.jsonl`; a file with the final name is
therefore always complete. A shard whose final file already exists is opened as done.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Callable, Hashable, Iterator

log = logging.getLogger(__name__)


class ShardError(RuntimeError):
    pass


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_records(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, record) of a finished shard; any bad line is a ShardError naming file:line."""
    with open(path, "rb") as f:
        for n, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw)
            except ValueError as exc:
                raise ShardError(f"{path}:{n}: unreadable record ({exc})") from exc
            if not isinstance(rec, dict):
                raise ShardError(f"{path}:{n}: expected a JSON object, got {type(rec).__name__}")
            yield n, rec


def repair_partial(path: Path) -> tuple[list[dict], int]:
    """Read a partial shard, truncating a torn last line in place. Returns (records, bytes cut)."""
    data = path.read_bytes()
    records: list[dict] = []
    pos, line_no, good_end = 0, 0, 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        end = len(data) if nl < 0 else nl + 1
        raw = data[pos:end]
        line_no += 1
        last = end >= len(data)
        if raw.strip():
            try:
                rec = json.loads(raw)
                if not isinstance(rec, dict):
                    raise ValueError(f"expected a JSON object, got {type(rec).__name__}")
            except ValueError as exc:
                if last:
                    break  # torn tail: cut below
                raise ShardError(f"{path}:{line_no}: unreadable record in the middle of a partial shard "
                                 f"({exc}); only the last line can be torn by a crash, so this file was "
                                 "damaged otherwise: inspect or delete it") from exc
            if nl < 0:
                break  # parses, but the newline never made it: treat as torn and regenerate
            records.append(rec)
        good_end = end
        pos = end
    cut = len(data) - good_end
    if cut:
        log.warning("%s: removed a torn last line (%d bytes, line %d) left by an interrupted write",
                    path, cut, line_no)
        with open(path, "r+b") as f:
            f.truncate(good_end)
            f.flush()
            os.fsync(f.fileno())
    return records, cut


class ShardWriter:
    """Append-only writer of one shard with resume; see the module docstring."""

    def __init__(self, directory: Path, name: str, key_fn: Callable[[dict], Hashable], fsync: bool = True):
        self.dir = Path(directory)
        self.name = name
        self.key_fn = key_fn
        self.fsync = fsync
        self.partial = self.dir / f"{name}.partial.jsonl"
        self.final = self.dir / f"{name}.jsonl"
        self.keys: set = set()
        self.resumed = 0        # records found on disk when opened
        self.repaired_bytes = 0
        self.written = 0
        self._fh = None
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.final.exists():
            for _, rec in read_records(self.final):
                self.keys.add(key_fn(rec))
            self.resumed = len(self.keys)
            if self.partial.exists():  # a finish() that renamed, then a stale copy: drop it
                self.partial.unlink()
            return
        if self.partial.exists():
            records, self.repaired_bytes = repair_partial(self.partial)
            for rec in records:
                k = key_fn(rec)
                if k in self.keys:
                    raise ShardError(f"{self.partial}: record {k} appears twice")
                self.keys.add(k)
            self.resumed = len(records)
            if records:
                log.info("%s: resuming after %d finished records", self.partial, len(records))

    @property
    def done(self) -> bool:
        return self.final.exists()

    def __contains__(self, key) -> bool:
        return key in self.keys

    def append(self, record: dict) -> None:
        if self.done:
            raise ShardError(f"{self.final} is finished; nothing more can be appended")
        k = self.key_fn(record)
        if k in self.keys:
            raise ShardError(f"{self.partial}: record {k} is already written")
        line = json.dumps(record, ensure_ascii=False, sort_keys=True, default=str) + "\n"
        if self._fh is None:
            self._fh = open(self.partial, "a", encoding="utf-8")
        self._fh.write(line)
        self._fh.flush()
        if self.fsync:
            os.fsync(self._fh.fileno())
        self.keys.add(k)
        self.written += 1

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def finish(self) -> Path:
        """Make the shard final: fsync, rename `.partial.jsonl` -> `.jsonl`, fsync the folder."""
        if self.done:
            return self.final
        if self._fh is None:
            self.partial.touch()
        else:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self.close()
        os.replace(self.partial, self.final)
        _fsync_dir(self.dir)
        return self.final

    def __enter__(self) -> "ShardWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
