"""Decontamination: drop training problems that are benchmark problems.

A training problem that restates a Comp-Math-24-25 problem would inflate every score the
framework reports. Candidates are found by word n-gram overlap, optionally confirmed by an
LLM (the recipe retrieves similar benchmark problems and asks an LLM whether they are the
same problem).

Overlap: texts are lower-cased and split into alphanumeric words (LaTeX command names,
markup and punctuation drop out, so ``$17_b$`` and ``17_b`` give the same words). A problem is a
candidate for a benchmark problem when they share at least ``min_shared`` word n-grams
(``n = 13`` by default, the usual contamination rule). A benchmark problem shorter than n
words contributes its whole word sequence as its only gram, so a short benchmark problem
copied verbatim is still caught. The best candidate is the benchmark problem with the most
shared grams; ``containment`` = shared / that benchmark problem's grams is reported.

LLM confirmation (optional): "Judgement: yes" (same problem) -> removed; "no" -> kept
(reason "n-gram match rejected by llm"); no judgement -> removed on the n-gram evidence
(reason "n-gram (llm gave no judgement)").
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from nmframe.datafiles import iter_rows, resolve

from .llm import Backend, ask, render

_WORD = re.compile(r"[a-z0-9]+")
_LATEX_COMMAND = re.compile(r"\\[A-Za-z]+")
CLEAN, CONTAMINATED, LLM_REJECTED, LLM_NO_JUDGEMENT = (
    "clean", "contaminated", "n-gram match rejected by llm", "n-gram (llm gave no judgement)")


def words(text: str) -> list[str]:
    """Lower-cased alphanumeric words; LaTeX command names (``\\frac``, ``\\left``) are dropped."""
    return _WORD.findall(_LATEX_COMMAND.sub(" ", text).lower())


def ngrams(tokens: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


@dataclass(frozen=True)
class Match:
    benchmark_id: str
    subset: str | None
    shared: int
    containment: float


@dataclass(frozen=True)
class DecontamDecision:
    remove: bool
    reason: str
    match: Match | None = None


def load_benchmarks(paths: Iterable[str]) -> list[dict]:
    """Benchmark rows ({id, problem, subset_for_metrics}) from JSONL/Parquet files (pkg:// ok)."""
    rows = []
    for spec in paths:
        files = resolve(spec)
        if not files:
            raise FileNotFoundError(f"benchmark file not found: {spec}")
        for f in files:
            for line, row, err in iter_rows(Path(f)):
                if err is not None or not isinstance(row.get("problem"), str):
                    raise ValueError(f"{f}:{line}: bad benchmark row ({err or 'no problem text'})")
                rows.append({"id": str(row.get("id", f"{Path(f).stem}-{line}")), "problem": row["problem"],
                             "subset": row.get("subset_for_metrics") or row.get("subset")})
    return rows


class NgramIndex:
    """Word n-gram index of benchmark problems."""

    def __init__(self, benchmarks: Sequence[Mapping], n: int = 13):
        if n < 1:
            raise ValueError(f"n-gram size must be >= 1, got {n}")
        self.n = n
        self.benchmarks = list(benchmarks)
        self.index: dict[tuple[str, ...], list[int]] = {}
        self.sizes: list[int] = []
        self.short_lengths: set[int] = set()
        for i, b in enumerate(self.benchmarks):
            toks = words(b["problem"])
            grams = ngrams(toks, n) if len(toks) >= n else ({tuple(toks)} if toks else set())
            if toks and len(toks) < n:
                self.short_lengths.add(len(toks))
            self.sizes.append(len(grams))
            for g in grams:
                self.index.setdefault(g, []).append(i)

    def best_match(self, text: str, min_shared: int = 1) -> Match | None:
        toks = words(text)
        counts: dict[int, int] = {}
        for n in (self.n, *sorted(self.short_lengths)):
            for g in ngrams(toks, n):
                for i in self.index.get(g, ()):
                    counts[i] = counts.get(i, 0) + 1
        if not counts:
            return None
        best = max(counts, key=lambda i: (counts[i], counts[i] / max(self.sizes[i], 1), -i))
        if counts[best] < min_shared:
            return None
        b = self.benchmarks[best]
        return Match(b["id"], b.get("subset"), counts[best], counts[best] / max(self.sizes[best], 1))


def decide(text: str, index: NgramIndex, *, min_shared: int = 1, llm: Backend | None = None,
           stats: dict | None = None) -> DecontamDecision:
    match = index.best_match(text, min_shared)
    if match is None:
        return DecontamDecision(False, CLEAN)
    if llm is None:
        return DecontamDecision(True, CONTAMINATED, match)
    bench = next(b for b in index.benchmarks if b["id"] == match.benchmark_id)
    verdict, status = ask(llm, render("decontam_same_problem", problem=text, benchmark_problem=bench["problem"]))
    if stats is not None:
        stats[status] = stats.get(status, 0) + 1
    if verdict is True:
        return DecontamDecision(True, CONTAMINATED, match)
    if verdict is False:
        return DecontamDecision(False, LLM_REJECTED, match)
    return DecontamDecision(True, LLM_NO_JUDGEMENT, match)
