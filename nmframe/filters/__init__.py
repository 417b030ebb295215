"""The recipe's data filters, usable on their own and as pipeline steps.

* :mod:`.validation`: which answer becomes ``expected_answer`` (16 high-mode solutions,
  keep / replace by majority / fill by majority), with an optional LLM judge;
* :mod:`.trivial`: drop problems whose low-mode pass rate exceeds a threshold, from samples
  or from the released dataset's metadata;
* :mod:`.correctness`: keep only traces whose answer reaches ``expected_answer``;
* :mod:`.classify`: proof / multiple-choice / yes-no / invalid problems (heuristic or LLM);
* :mod:`.decontam`: benchmark problems by word n-gram overlap, optional LLM confirmation;
* :mod:`.llm`: prompt files, the ``backend(prompt) -> reply`` interface, reply parsing.

Every filter's decisions carry a reason, and :class:`.report.Tally` counts them per data
source.
"""
from .classify import Classification, classify_heuristic, classify_llm
from .correctness import TraceDecision, decide_traces, trace_answer
from .decontam import NgramIndex, load_benchmarks
from .llm import load_backend, parse_judgement, render
from .report import Tally
from .trivial import TrivialDecision, counts_from_metadata, decide_from_metadata, decide_from_samples, is_trivial
from .validation import ValidationResult, validate_answers

__all__ = [
    "Classification", "NgramIndex", "Tally", "TraceDecision", "TrivialDecision", "ValidationResult",
    "classify_heuristic", "classify_llm", "counts_from_metadata", "decide_from_metadata",
    "decide_from_samples", "decide_traces", "is_trivial", "load_backend", "load_benchmarks",
    "parse_judgement", "render", "trace_answer", "validate_answers",
]
