"""Reading generated samples back for answer validation and the trace filters.

The generation step writes one ``samples.jsonl`` per task (a mode x TIR x seed x shard
coordinate), one record per sample with ``problem_id``, ``mode``, ``tir``, ``seed`` and the
extracted final answer. Records are read in a fixed order (tasks sorted by their params,
records in file order) so that majority votes, whose tie rule follows sample order, are
the same on every run. A line that is not JSON (a torn last line of an interrupted writer)
is counted and skipped, never fatal.
"""
from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Iterator, Mapping

from nmframe.answers import extract_answer
from nmframe.datafiles import iter_rows

SAMPLE_FILES = ("samples.jsonl", "traces.jsonl")
ANSWER_KEYS = ("answer", "final_answer", "predicted_answer", "extracted_answer")


class SampleFormatError(ValueError):
    pass


def sample_answer(rec: Mapping, origin: str = "") -> str | None:
    """The extracted answer of a sample record: the first of :data:`ANSWER_KEYS` present,
    else extracted from its ``completion`` text; a record with neither is an error."""
    for key in ANSWER_KEYS:
        if key in rec:
            val = rec[key]
            return None if val is None else str(val)
    if isinstance(rec.get("completion"), str):
        return extract_answer(rec["completion"])
    raise SampleFormatError(f"{origin}: sample record has no answer field ({', '.join(ANSWER_KEYS)}) "
                            f"and no completion (keys: {', '.join(sorted(rec)[:10])})")


def task_params(artifact: Path) -> dict:
    """The fan-out params of a finished task, from its manifest."""
    manifest = artifact / "manifest.json"
    if manifest.is_file():
        return json.loads(manifest.read_text()).get("params", {})
    return {}


def sample_dirs(inputs: Mapping[str, Path], prefix: str) -> list[Path]:
    """The input artifacts whose input name starts with ``prefix``, sorted by their params."""
    dirs = [p for name, p in inputs.items() if name.startswith(prefix)]
    return sorted(dirs, key=lambda d: json.dumps(task_params(d), sort_keys=True, default=str))


def sample_files(artifact: Path) -> list[Path]:
    for name in SAMPLE_FILES:
        if (artifact / name).is_file():
            return [artifact / name]
    raise FileNotFoundError(f"{artifact}: no {' or '.join(SAMPLE_FILES)}")


def iter_samples(dirs: list[Path], bad: collections.Counter | None = None) -> Iterator[tuple[str, dict]]:
    """(origin, record) for every well-formed record of the given artifacts, in a fixed order."""
    for d in dirs:
        for f in sample_files(d):
            for line, row, err in iter_rows(f):
                if err is not None:
                    if bad is not None:
                        bad[f"{f}:{line}: {err}"] += 1
                    continue
                yield f"{f}:{line}", row


def answers_by_problem(dirs: list[Path], bad: collections.Counter | None = None) -> dict[str, list[str | None]]:
    """problem id -> the extracted answers of its samples, in the fixed order."""
    out: dict[str, list[str | None]] = {}
    for origin, rec in iter_samples(dirs, bad):
        if rec.get("problem_id") is None:
            raise SampleFormatError(f"{origin}: sample record without problem_id")
        out.setdefault(str(rec["problem_id"]), []).append(sample_answer(rec, origin))
    return out
