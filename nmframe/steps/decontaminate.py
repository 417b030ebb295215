"""decontaminate: remove training problems that restate a benchmark problem.

Input: ``classify`` if in the pipeline, else ``ingest``. Benchmarks: ``filters.decontam_benchmarks``
(the shipped Comp-Math-24-25 by default; the key includes their contents). Word n-gram overlap
decides (``filters.decontam_ngram``, ``filters.decontam_min_shared``); ``filters.decontam_llm``
optionally confirms each candidate (see :mod:`nmframe.filters.decontam`). Output:
``problems.jsonl`` (kept), ``removed.jsonl`` (with the matching benchmark problem),
``report.json`` (counts per data_source and reason, matches per benchmark subset).
"""
from __future__ import annotations

import collections
from dataclasses import asdict

from nmframe.datafiles import fingerprint, resolve, write_jsonl
from nmframe.engine import Resources, Step, StepContext, TaskSpec, register_step
from nmframe.filters.decontam import NgramIndex, decide, load_benchmarks
from nmframe.filters.llm import llm_slice, load_backend
from nmframe.filters.report import Tally
from nmframe.filters.stepio import SOURCE_STEPS, problems_upstream, read_problems, report
from nmframe.progress import track

PROBLEM_STEPS = ("classify", *SOURCE_STEPS)


@register_step
class Decontaminate(Step):
    name = "decontaminate"
    VERSION = "1"
    description = "drop problems that overlap a benchmark problem (word n-grams, optional LLM confirmation)"
    inputs = PROBLEM_STEPS
    slice_paths = ("filters.decontam_ngram", "filters.decontam_min_shared", "filters.decontam_llm")

    def tasks(self, cfg, dag):
        name, task = problems_upstream(dag, PROBLEM_STEPS, self.name)
        return [TaskSpec(params={}, inputs={"problems": task})]

    def config_slice(self, cfg, params):
        """Keyed by the benchmarks' contents, not their locations."""
        out = super().config_slice(cfg, params)
        out["benchmarks"] = [[fingerprint(p) for p in resolve(str(b))] or f"MISSING: {b}"
                             for b in cfg.filters.decontam_benchmarks]
        if cfg.filters.decontam_llm:
            out["filters.decontam_llm"] = llm_slice(cfg.filters.decontam_llm, cfg)
        return out

    def resources(self, cfg, params):
        return Resources(cpus=1, time_min=120, mem_gb=8)

    def run(self, ctx: StepContext) -> None:
        f = ctx.cfg.filters
        index = NgramIndex(load_benchmarks([str(b) for b in f.decontam_benchmarks]), int(f.decontam_ngram))
        llm = load_backend(str(f.decontam_llm), ctx.cfg) if f.decontam_llm else None
        bad: collections.Counter = collections.Counter()
        problems = read_problems(ctx.inputs["problems"] / "problems.jsonl", bad)
        tally, llm_stats, subsets = Tally(), {}, collections.Counter()
        kept, removed = [], []
        for p in track(problems, "decontaminate"):
            d = decide(p["problem"], index, min_shared=int(f.decontam_min_shared), llm=llm, stats=llm_stats)
            tally.add(p.get("data_source"), not d.remove, d.reason)
            if d.remove:
                subsets[str(d.match.subset)] += 1
                removed.append({**p, "filter": {"reason": d.reason, "match": asdict(d.match)}})
            else:
                kept.append(p)
        write_jsonl(ctx.out_dir / "problems.jsonl", kept)
        write_jsonl(ctx.out_dir / "removed.jsonl", removed)
        report(ctx, tally, benchmark_problems=len(index.benchmarks), ngram=index.n,
               removed_by_benchmark_subset=dict(subsets), llm_replies=llm_stats,
               bad_lines=sum(bad.values()), bad_examples=list(bad)[:20])
