"""Benchmark decontamination: n-gram overlap first (the filters' index), the LLM to confirm.

* no benchmark problem shares a word n-gram with the problem: clean, by rule;
* the best match's containment (shared grams / the benchmark problem's grams) is at least
  ``rule_containment`` (a near-verbatim copy): contaminated, by rule;
* otherwise the LLM sees both problems (the filters' ``decontam_same_problem`` prompt):
  "yes" -> contaminated, "no" -> clean, unreadable -> "no decision".
"""
from __future__ import annotations

from dataclasses import asdict

from nmframe.filters.decontam import NgramIndex

from . import prompts
from .decision import LLM, RULE, Decision, no_decision
from .llm import PrepLLM
from .parse import Unreadable, parse_yes_no

CLEAN, CONTAMINATED = "clean", "contaminated"


def decide_contamination(texts: list[str], index: NgramIndex, llm: PrepLLM | None, *, min_shared: int = 1,
                         rule_containment: float = 0.9, replies: dict | None = None) -> list[Decision]:
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
                if replies is not None:
                    replies["unreadable"] = replies.get("unreadable", 0) + 1
                continue
            if replies is not None:
                replies["yes" if same else "no"] = replies.get("yes" if same else "no", 0) + 1
            out[i] = Decision(LLM, f"llm: {'same' if same else 'a different'} problem as benchmark {m.benchmark_id}",
                              CONTAMINATED if same else CLEAN, {"match": asdict(m)})
    return out  # type: ignore[return-value]
