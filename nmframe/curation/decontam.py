"""Decontamination: drop training problems that are benchmark problems; the two methods of step
``decontaminate``.

A training problem that restates a Comp-Math-24-25 problem would inflate every score the
framework reports. The recipe retrieves similar benchmark problems and asks an LLM whether they
are the same problem (arXiv:2512.15489). Candidates are found by word n-gram overlap
(:class:`NgramIndex`):

Overlap: texts are lower-cased and split into alphanumeric words (LaTeX command names,
markup and punctuation drop out, so ``$17_b$`` and ``17_b`` give the same words). A problem is a
candidate for a benchmark problem when they share at least ``min_shared`` word n-grams
(``n = 13`` by default, the usual contamination rule). A benchmark problem shorter than n
words contributes its whole word sequence as its only gram, so a short benchmark problem
copied verbatim is still caught. The best candidate is the benchmark problem with the most
shared grams; ``containment`` = shared / that benchmark problem's grams is reported.

Methods (one :class:`~.decision.Decision` per problem, value "clean" or "contaminated", the
match in ``extra["match"]``):

* ``ngram`` (:func:`decide_ngram`): a candidate is contaminated, by rule;
* ``rules_llm`` (:func:`decide_contamination`): no shared n-gram: clean, by rule; containment at
  least ``rule_containment`` (a near-verbatim copy): contaminated, by rule; otherwise the LLM sees
  both problems (``decontam_same_problem``): "yes" -> contaminated, "no" -> clean, unreadable ->
  "no decision".
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from nmframe.datafiles import iter_rows, resolve

from . import prompts
from .decision import LLM, RULE, Decision, count, no_decision
from .llm import CurationLLM
from .parse import Unreadable, parse_yes_no

_WORD = re.compile(r"[a-z0-9]+")
_LATEX_COMMAND = re.compile(r"\\[A-Za-z]+")
CLEAN, CONTAMINATED = "clean", "contaminated"
NGRAM, RULES_LLM = "ngram", "rules_llm"
METHODS = (NGRAM, RULES_LLM)


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


def decide_ngram(texts: list[str], index: NgramIndex, *, min_shared: int = 1) -> list[Decision]:
    """The ``ngram`` method: a problem with a candidate benchmark match is contaminated."""
    out = []
    for t in texts:
        m = index.best_match(t, min_shared)
        if m is None:
            out.append(Decision(RULE, "no shared n-gram with a benchmark problem", CLEAN))
        else:
            out.append(Decision(RULE, f"{m.shared} shared n-gram(s) with benchmark {m.benchmark_id}", CONTAMINATED,
                                {"match": asdict(m)}))
    return out


def decide_contamination(texts: list[str], index: NgramIndex, llm: CurationLLM | None, *, min_shared: int = 1,
                         rule_containment: float = 0.9, replies: dict | None = None) -> list[Decision]:
    """The ``rules_llm`` method: n-gram rules first, the LLM for candidates that are no near-verbatim copy."""
    out: list[Decision | None] = []
    todo = []
    for i, t in enumerate(texts):
        m = index.best_match(t, min_shared)
        if m is None:
            out.append(Decision(RULE, "no shared n-gram with a benchmark problem", CLEAN))
        elif m.containment >= rule_containment:
            out.append(Decision(RULE, f"n-gram containment {m.containment:.2f} >= {rule_containment}", CONTAMINATED,
                                {"match": asdict(m)}))
        else:
            out.append(None)
            todo.append((i, m))
    if todo and llm is None:
        for i, m in todo:
            out[i] = no_decision("needs the LLM, and prep.backend=none", match=asdict(m))
        count(replies, "not asked (backend none)", len(todo))
        return out  # type: ignore[return-value]
    if todo:
        bench = {b["id"]: b["problem"] for b in index.benchmarks}
        got = llm.ask([prompts.render("decontam_same_problem", problem=texts[i], benchmark_problem=bench[m.benchmark_id])
                       for i, m in todo])
        for (i, m), rep in zip(todo, got):
            try:
                if rep.text is None:
                    raise Unreadable(rep.error or "no reply")
                same = parse_yes_no(rep.text)
            except Unreadable as exc:
                out[i] = no_decision(f"unreadable reply ({exc})", match=asdict(m))
                count(replies, "unreadable")
                continue
            count(replies, "yes" if same else "no")
            out[i] = Decision(LLM, f"llm: {'same' if same else 'a different'} problem as benchmark {m.benchmark_id}",
                              CONTAMINATED if same else CLEAN, {"match": asdict(m)})
    return out  # type: ignore[return-value]
