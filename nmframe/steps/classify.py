"""classify: remove proof, multiple-choice, yes/no and invalid problems before generation.

Input: the nearest earlier step that produces problems (ingest, extract_answers, ...).
``filters.classify_method``:

* ``heuristic`` (default): the rules of :mod:`nmframe.curation.rules` decide every problem;
* ``rules_llm``: confident rules first, the LLM named by ``prep.backend`` (one prompt per
  category) for the rest (:mod:`nmframe.curation.classify`); rows the LLM leaves without a
  decision are held (``prep.on_no_decision=hold``) or kept, marked (``keep``).

Categories removed: ``filters.classify_remove``. Output: ``problems.jsonl`` (kept),
``removed.jsonl``, ``undecided.jsonl``, each row with ``prep.classify = {decided_by, reason,
category}``; ``report.json`` (counts per data_source, reason and decider; rules that removed).
"""
from __future__ import annotations

import collections

from nmframe.config.checks import ConfigError
from nmframe.curation import prompts
from nmframe.curation.classify import HEURISTIC, METHODS, RULES_LLM, decide_categories, decide_heuristic
from nmframe.curation.decision import RULE
from nmframe.curation.llm import LLM_SLICE_READS, llm_gpus, llm_slice, open_llm
from nmframe.curation.rules import CATEGORIES
from nmframe.curation.stepio import check_on_no_decision, filter_problems, report
from nmframe.curation.tally import Tally
from nmframe.engine import Resources, Step, StepContext, TaskSpec, register_step
from nmframe.engine.registry import retire_step

retire_step("prep_classify", "classify with filters.classify_method=rules_llm")


def classify_method(cfg) -> str:
    method = str(cfg.filters.classify_method)
    if method == "llm":
        raise ConfigError("filters.classify_method", method, "was replaced by rules_llm (confident rules first, "
                          "the LLM named by prep.backend for the rest)")
    if method not in METHODS:
        raise ConfigError("filters.classify_method", method, "unknown method", allowed=", ".join(METHODS))
    unknown = sorted({str(c) for c in cfg.filters.classify_remove} - set(CATEGORIES))
    if unknown:
        raise ConfigError("filters.classify_remove", unknown, "unknown categories", allowed=", ".join(CATEGORIES))
    return method


@register_step
class Classify(Step):
    name = "classify"
    VERSION = "2"
    description = "drop proof / multiple-choice / yes-no / invalid problems (heuristic rules, or rules then an LLM)"
    produces = "problems"
    slice_paths = ("filters.classify_method", "filters.classify_remove")
    extra_reads = ("prep.on_no_decision", *LLM_SLICE_READS)  # classify_method=rules_llm

    def tasks(self, cfg, dag):
        return [TaskSpec(params={}, inputs={"problems": dag.nearest("problems", before=self.name)})]

    def config_slice(self, cfg, params):
        out = super().config_slice(cfg, params)
        if classify_method(cfg) == RULES_LLM:
            out["prep.on_no_decision"] = str(cfg.prep.on_no_decision)
            out["llm"] = llm_slice(cfg, str(cfg.prep.backend))
            out["prompts"] = prompts.fingerprint(*(f"classify_{c}" for c in CATEGORIES))
        return out

    def resources(self, cfg, params):
        if str(cfg.filters.classify_method) == HEURISTIC:
            return Resources(cpus=1, time_min=120, mem_gb=8)
        gpus, nodes = llm_gpus(cfg, str(cfg.prep.backend))  # the task serves the LLM itself
        return Resources(cpus=2, gpus=gpus, nodes=nodes, time_min=600, mem_gb=None if gpus else 8)

    def run(self, ctx: StepContext) -> None:
        cfg = ctx.cfg
        method = classify_method(cfg)
        policy = check_on_no_decision(cfg)
        remove = [str(c) for c in cfg.filters.classify_remove]
        tally, replies, rules = Tally(int(cfg.prep.report_examples)), {}, collections.Counter()

        def removed_by(row, d):
            if d.decided_by == RULE:
                rules[d.reason.split(":")[0]] += 1

        with open_llm(cfg, str(cfg.prep.backend) if method == RULES_LLM else None, ctx.out_dir) as llm:
            def decide(texts):
                if method == HEURISTIC:
                    return decide_heuristic(texts, remove)
                return decide_categories(texts, llm, remove, replies)

            bad = filter_problems(ctx, "classify", "category", decide, lambda d: d.value in remove, policy=policy,
                                  batch=4 * int(cfg.prep.batch_size), tally=tally, on_removed=removed_by)
        report(ctx, tally, method=method, on_no_decision=policy, rules=dict(rules), llm_replies=replies,
               llm=llm_slice(cfg, str(cfg.prep.backend)) if method == RULES_LLM else None,
               bad_lines=sum(bad.values()), bad_examples=list(bad)[:20])
