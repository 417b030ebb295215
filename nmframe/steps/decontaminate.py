"""decontaminate: remove training problems that restate a benchmark problem.

Input: the nearest earlier step that produces problems (classify, ingest, ...). Benchmarks:
``filters.decontam_benchmarks`` (the shipped Comp-Math-24-25 by default; the key holds their
contents), word n-grams of size ``filters.decontam_ngram``, ``filters.decontam_min_shared`` shared
grams make a candidate. ``filters.decontam_method`` (:mod:`nmframe.curation.decontam`):

* ``ngram`` (default): every candidate is removed, by rule;
* ``rules_llm``: near-verbatim copies (containment >= ``prep.decontam_rule_containment``) are
  removed by rule, the LLM named by ``prep.backend`` judges the other candidates; rows without a
  decision are held or kept (``prep.on_no_decision``).

Output: ``problems.jsonl`` (kept), ``removed.jsonl``, ``undecided.jsonl``, each row with
``prep.decontam = {decided_by, reason, outcome, match}``; ``report.json`` (counts per data_source,
reason and decider; removals per benchmark subset).
"""
from __future__ import annotations

import collections

from nmframe.config.checks import ConfigError
from nmframe.curation import prompts
from nmframe.curation.decontam import (CONTAMINATED, METHODS, NGRAM, RULES_LLM, NgramIndex, decide_contamination,
                                       decide_ngram, load_benchmarks)
from nmframe.curation.llm import LLM_SLICE_READS, llm_gpus, llm_slice, open_llm
from nmframe.curation.stepio import check_on_no_decision, filter_problems, report
from nmframe.curation.tally import Tally
from nmframe.datafiles import fingerprint, resolve
from nmframe.engine import Resources, Step, StepContext, TaskSpec, register_step
from nmframe.engine.registry import retire_step

retire_step("prep_decontaminate", "decontaminate with filters.decontam_method=rules_llm")


def decontam_method(cfg) -> str:
    method = str(cfg.filters.decontam_method)
    if method not in METHODS:
        raise ConfigError("filters.decontam_method", method, "unknown method", allowed=", ".join(METHODS))
    return method


@register_step
class Decontaminate(Step):
    name = "decontaminate"
    VERSION = "2"
    description = "drop problems that overlap a benchmark problem (word n-grams; or rules then an LLM)"
    produces = "problems"
    slice_paths = ("filters.decontam_method", "filters.decontam_ngram", "filters.decontam_min_shared")
    extra_reads = ("filters.decontam_benchmarks", "prep.decontam_rule_containment", "prep.on_no_decision",
                   *LLM_SLICE_READS)

    def tasks(self, cfg, dag):
        return [TaskSpec(params={}, inputs={"problems": dag.nearest("problems", before=self.name)})]

    def input_files(self, cfg, params):
        return [(f"filters.decontam_benchmarks[{i}]", str(b)) for i, b in enumerate(cfg.filters.decontam_benchmarks)]

    def config_slice(self, cfg, params):
        """Keyed by the benchmarks' contents, not their locations."""
        out = super().config_slice(cfg, params)
        out["benchmarks"] = [[fingerprint(p) for p in resolve(str(b))] or f"MISSING: {b}"
                             for b in cfg.filters.decontam_benchmarks]
        if decontam_method(cfg) == RULES_LLM:
            out["prep.decontam_rule_containment"] = float(cfg.prep.decontam_rule_containment)
            out["prep.on_no_decision"] = str(cfg.prep.on_no_decision)
            out["llm"] = llm_slice(cfg, str(cfg.prep.backend))
            out["prompts"] = prompts.fingerprint("decontam_same_problem")
        return out

    def resources(self, cfg, params):
        if str(cfg.filters.decontam_method) == NGRAM:
            return Resources(cpus=1, time_min=120, mem_gb=8)
        gpus, nodes = llm_gpus(cfg, str(cfg.prep.backend))  # the task serves the LLM itself
        return Resources(cpus=2, gpus=gpus, nodes=nodes, time_min=600, mem_gb=None if gpus else 8)

    def run(self, ctx: StepContext) -> None:
        cfg, f = ctx.cfg, ctx.cfg.filters
        method = decontam_method(cfg)
        policy = check_on_no_decision(cfg)
        index = NgramIndex(load_benchmarks([str(b) for b in f.decontam_benchmarks]), int(f.decontam_ngram))
        min_shared = int(f.decontam_min_shared)
        tally, replies, subsets = Tally(int(cfg.prep.report_examples)), {}, collections.Counter()

        def removed_from(row, d):
            subsets[str(d.extra["match"]["subset"])] += 1

        with open_llm(cfg, str(cfg.prep.backend) if method == RULES_LLM else None, ctx.out_dir) as llm:
            def decide(texts):
                if method == NGRAM:
                    return decide_ngram(texts, index, min_shared=min_shared)
                return decide_contamination(texts, index, llm, min_shared=min_shared, replies=replies,
                                            rule_containment=float(cfg.prep.decontam_rule_containment))

            bad = filter_problems(ctx, "decontam", "outcome", decide, lambda d: d.value == CONTAMINATED,
                                  policy=policy, batch=4 * int(cfg.prep.batch_size), tally=tally,
                                  on_removed=removed_from)
        report(ctx, tally, method=method, on_no_decision=policy, benchmark_problems=len(index.benchmarks),
               ngram=index.n, removed_by_benchmark_subset=dict(subsets), llm_replies=replies,
               llm=llm_slice(cfg, str(cfg.prep.backend)) if method == RULES_LLM else None,
               bad_lines=sum(bad.values()), bad_examples=list(bad)[:20])
