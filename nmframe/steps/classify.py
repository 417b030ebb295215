"""classify: remove proof, multiple-choice, yes/no and invalid problems before generation.

Input: ``ingest``. Output: ``problems.jsonl`` (kept), ``removed.jsonl`` (each removed problem
with ``filter = {category, reason, method}``), ``report.json`` (counts per data_source and
reason). Heuristic rules by default; ``filters.classify_method=llm`` asks the LLM named by
``filters.classifier`` one prompt per category (see :mod:`nmframe.filters.classify`).
"""
from __future__ import annotations

import collections

from nmframe.datafiles import write_jsonl
from nmframe.engine import Resources, Step, StepContext, TaskSpec, register_step
from nmframe.filters.classify import CATEGORIES, classify_heuristic, classify_llm
from nmframe.filters.llm import llm_slice, load_backend
from nmframe.filters.report import Tally
from nmframe.filters.stepio import SOURCE_STEPS, problems_upstream, read_problems, report
from nmframe.progress import track

METHODS = ("heuristic", "llm")


@register_step
class Classify(Step):
    name = "classify"
    VERSION = "1"
    description = "drop proof / multiple-choice / yes-no / invalid problems (heuristic rules or an LLM)"
    inputs = SOURCE_STEPS
    slice_paths = ("filters.classify_method", "filters.classify_remove")

    def tasks(self, cfg, dag):
        _, problems = problems_upstream(dag, SOURCE_STEPS, self.name)
        return [TaskSpec(params={}, inputs={"problems": problems})]

    def config_slice(self, cfg, params):
        out = super().config_slice(cfg, params)
        if cfg.filters.classify_method == "llm":
            out["filters.classifier"] = llm_slice(cfg.filters.classifier, cfg)
        return out

    def resources(self, cfg, params):
        return Resources(cpus=1, time_min=120, mem_gb=8)

    def run(self, ctx: StepContext) -> None:
        f = ctx.cfg.filters
        method = str(f.classify_method)
        if method not in METHODS:
            raise ValueError(f"filters.classify_method must be one of {METHODS}, got {method!r}")
        remove = [str(c) for c in f.classify_remove]
        unknown = sorted(set(remove) - set(CATEGORIES))
        if unknown:
            raise ValueError(f"filters.classify_remove has unknown categories {unknown}; known: {list(CATEGORIES)}")
        backend = None
        if method == "llm":
            if not f.classifier:
                raise ValueError("filters.classify_method=llm needs filters.classifier ('module:factory')")
            backend = load_backend(str(f.classifier), ctx.cfg)
        bad: collections.Counter = collections.Counter()
        problems = read_problems(ctx.inputs["problems"] / "problems.jsonl", bad)
        tally, llm_stats = Tally(), {}
        kept, removed = [], []
        for p in track(problems, "classify"):
            c = (classify_llm(p["problem"], backend, remove, llm_stats) if backend
                 else classify_heuristic(p["problem"], remove))
            if c.category == "ok":
                kept.append(p)
                tally.add(p.get("data_source"), True, "ok")
            else:
                removed.append({**p, "filter": {"category": c.category, "reason": c.reason, "method": c.method}})
                tally.add(p.get("data_source"), False, c.category)
        write_jsonl(ctx.out_dir / "problems.jsonl", kept)
        write_jsonl(ctx.out_dir / "removed.jsonl", removed)
        rules = collections.Counter(r["filter"]["reason"].split(":")[0] for r in removed)
        report(ctx, tally, method=method, rules=dict(rules), llm_replies=llm_stats,
               bad_lines=sum(bad.values()), bad_examples=list(bad)[:20])
