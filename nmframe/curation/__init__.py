"""Curation: from raw forum data or problem files to the problems and traces the recipe trains on.

One module per concern, each usable on its own and behind a pipeline step:

* raw dumps: :mod:`.extract` (problems from posts), :mod:`.answers` (reference answers from the
  discussion), :mod:`.parse` (reading the LLM's replies);
* problem filters: :mod:`.rules` + :mod:`.classify` (proof / multiple-choice / yes-no / invalid;
  methods ``heuristic`` and ``rules_llm``), :mod:`.decontam` (benchmark copies; methods
  ``ngram`` and ``rules_llm``);
* answer and trace filters: :mod:`.validation` (which answer becomes ``expected_answer``),
  :mod:`.trivial` (low-mode pass rate), :mod:`.correctness` (traces that reach the answer),
  :mod:`.samples` (reading generated samples back);
* shared: :mod:`.llm` (the one LLM client, built from a config name), :mod:`.prompts` (prompt files,
  fingerprinted into cache keys), :mod:`.decision` (``decided_by`` rule | llm | none, and why),
  :mod:`.tally` (the per-data-source counts of every report), :mod:`.stepio` (step plumbing).

A new filter is a module here and a step in ``nmframe.steps`` that declares
``produces = "problems"`` and reads the nearest earlier producer.
"""
from .classify import classify_rule, decide_categories, decide_heuristic
from .correctness import TraceDecision, decide_traces, trace_answer
from .decision import LLM, NONE, RULE, Decision, no_decision
from .decontam import NgramIndex, decide_contamination, decide_ngram, load_benchmarks
from .llm import CurationLLM, Reply, ask, llm_slice, load_backend, open_llm
from .parse import Unreadable, parse_final_answer, parse_judgement, parse_problems, parse_yes_no
from .rules import CATEGORIES, classify_heuristic
from .tally import Tally
from .trivial import TrivialDecision, counts_from_metadata, decide_from_metadata, decide_from_samples, is_trivial
from .validation import ValidationResult, validate_answers

__all__ = [
    "CATEGORIES", "LLM", "NONE", "RULE", "CurationLLM", "Decision", "NgramIndex", "Reply", "Tally", "TraceDecision",
    "TrivialDecision", "Unreadable", "ValidationResult", "ask", "classify_heuristic", "classify_rule",
    "counts_from_metadata", "decide_categories", "decide_contamination", "decide_from_metadata",
    "decide_from_samples", "decide_heuristic", "decide_ngram", "decide_traces", "is_trivial", "llm_slice",
    "load_backend", "load_benchmarks", "no_decision", "open_llm", "parse_final_answer", "parse_judgement",
    "parse_problems", "parse_yes_no", "trace_answer", "validate_answers",
]
