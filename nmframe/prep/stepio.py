"""Plumbing shared by the preparation steps: inputs, outputs and counts.

Which problems later steps read: ``ingest`` and the preparation steps all write
``problems.jsonl`` in the canonical shape; a consumer reads the nearest one in the pipeline
(``nmframe.filters.stepio.SOURCE_STEPS``), so a pipeline may start from raw dumps or from files.
"""
from __future__ import annotations

import collections
import json
from collections.abc import Iterable
from pathlib import Path

from nmframe.filters.stepio import problems_upstream as upstream  # noqa: F401 - re-exported for the prep steps

PREP_STEPS = ("extract_problems", "extract_answers", "prep_classify", "prep_decontaminate")
PROBLEM_STEPS = ("ingest", *PREP_STEPS)


class Outputs:
    """JSONL files written row by row (``problems.jsonl``, ``removed.jsonl``, ``undecided.jsonl``)."""

    def __init__(self, out_dir: Path, names: Iterable[str]):
        self.files = {n: open(Path(out_dir) / f"{n}.jsonl", "w", encoding="utf-8") for n in names}  # noqa: SIM115 - closed by close()/__exit__
        self.counts = collections.Counter()

    def write(self, name: str, row: dict) -> None:
        self.files[name].write(json.dumps(row, ensure_ascii=False) + "\n")
        self.counts[name] += 1

    def close(self) -> None:
        for f in self.files.values():
            f.close()

    def __enter__(self) -> Outputs:  # noqa: PYI034
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class DecisionTally:
    """Counts per data source x decided_by x outcome, and a few examples of each undecided reason."""

    def __init__(self, examples: int = 20):
        self.counts = collections.Counter()
        self.examples: list[dict] = []
        self.max_examples = examples

    def add(self, data_source: str | None, decided_by: str, outcome: str, example: dict | None = None) -> None:
        self.counts[(data_source or "unknown", decided_by, outcome)] += 1
        if example is not None and len(self.examples) < self.max_examples:
            self.examples.append(example)

    def to_dict(self) -> dict:
        by_outcome, by_decider = collections.Counter(), collections.Counter()
        rows = []
        for (src, by, outcome), n in sorted(self.counts.items()):
            by_outcome[outcome] += n
            by_decider[by] += n
            rows.append({"data_source": src, "decided_by": by, "outcome": outcome, "count": n})
        return {"total": sum(self.counts.values()), "by_outcome": dict(by_outcome), "by_decided_by": dict(by_decider),
                "counts": rows, "undecided_examples": self.examples}


def read_rows(path: Path, bad: collections.Counter) -> Iterable[dict]:
    from nmframe.datafiles import iter_rows

    for line, row, err in iter_rows(path):
        if err is not None:
            bad[f"{path.name}:{line}: {err}"] += 1
            continue
        yield row


def chunks(items: Iterable, size: int) -> Iterable[list]:
    buf = []
    for x in items:
        buf.append(x)
        if len(buf) >= size:
            yield buf
            buf = []
    if buf:
        yield buf
