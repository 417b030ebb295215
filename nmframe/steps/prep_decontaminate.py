"""prep_decontaminate: remove problems that restate a benchmark problem (n-grams, LLM to confirm).

Input: ``prep_classify``, else ``extract_answers`` / ``extract_problems`` / ``ingest``. Benchmarks:
``filters.decontam_benchmarks`` (keyed by content), n-gram size ``filters.decontam_ngram``,
``filters.decontam_min_shared``; near-verbatim copies (containment >=
``prep.decontam_rule_containment``) are removed by rule, other candidates go to the LLM
(:mod:`nmframe.prep.decontam`). Output: ``problems.jsonl``, ``removed.jsonl`` (with the matching
benchmark problem), ``undecided.jsonl`` (``prep.on_no_decision``), each row with
``prep.decontam``; ``report.json``.
"""
from __future__ import annotations

import collections

from nmframe.datafiles import fingerprint, resolve
from nmframe.engine import Resources, Step, StepContext, TaskSpec, register_step
from nmframe.filters.decontam import NgramIndex, load_benchmarks
from nmframe.prep import prompts
from nmframe.prep.decontam import CONTAMINATED, decide_contamination
from nmframe.prep.llm import llm_slice, open_prep_llm
from nmframe.prep.stepio import DecisionTally, Outputs, chunks, read_rows, upstream
from nmframe.progress import track
from nmframe.steps.prep_classify import check_on_no_decision

INPUTS = ("prep_classify", "extract_answers", "extract_problems", "ingest")


@register_step
class PrepDecontaminate(Step):
    name = "prep_decontaminate"
    VERSION = "1"
    description = "drop benchmark copies (n-gram overlap, rule for near-verbatim, LLM to confirm the rest)"
    inputs = INPUTS
    slice_paths = ("filters.decontam_ngram", "filters.decontam_min_shared", "prep.decontam_rule_containment",
                   "prep.on_no_decision")

    def tasks(self, cfg, dag):
        _, task = upstream(dag, INPUTS, self.name)
        return [TaskSpec(params={}, inputs={"problems": task})]

    def config_slice(self, cfg, params):
        out = super().config_slice(cfg, params)
        out["benchmarks"] = [[fingerprint(p) for p in resolve(str(b))] or f"MISSING: {b}"
                             for b in cfg.filters.decontam_benchmarks]
        out["llm"] = llm_slice(cfg)
        out["prompts"] = prompts.fingerprint("decontam_same_problem")
        return out

    def resources(self, cfg, params):
        return Resources(cpus=2, time_min=600, mem_gb=8)

    def run(self, ctx: StepContext) -> None:
        cfg, f = ctx.cfg, ctx.cfg.filters
        policy = check_on_no_decision(cfg)
        index = NgramIndex(load_benchmarks([str(b) for b in f.decontam_benchmarks]), int(f.decontam_ngram))
        bad: collections.Counter = collections.Counter()
        tally, replies = DecisionTally(int(cfg.prep.report_examples)), {}
        subsets = collections.Counter()
        rows = read_rows(ctx.inputs["problems"] / "problems.jsonl", bad)
        with open_prep_llm(cfg, ctx.out_dir) as llm, Outputs(ctx.out_dir, ("problems", "removed", "undecided")) as out:
            for chunk in chunks(track(rows, "prep_decontaminate"), 4 * int(cfg.prep.batch_size)):
                ds = decide_contamination([r["problem"] for r in chunk], index, llm, min_shared=int(f.decontam_min_shared),
                                          rule_containment=float(cfg.prep.decontam_rule_containment), replies=replies)
                for r, d in zip(chunk, ds):
                    r.setdefault("prep", {})["decontam"] = d.record(outcome=d.value)
                    if not d.decided:
                        tally.add(r.get("data_source"), d.decided_by, "undecided",
                                  {"id": r["id"], "origin": r.get("origin"), "reason": d.reason})
                        ctx.log.warning("no decontamination decision for %s: %s", r.get("origin"), d.reason)
                        out.write("undecided" if policy == "hold" else "problems", r)
                    elif d.value == CONTAMINATED:
                        subsets[str(d.extra["match"]["subset"])] += 1
                        tally.add(r.get("data_source"), d.decided_by, "contaminated")
                        out.write("removed", r)
                    else:
                        tally.add(r.get("data_source"), d.decided_by, "clean")
                        out.write("problems", r)
            written = dict(out.counts)
        rep = {"kept": written.get("problems", 0), "removed": written.get("removed", 0),
               "undecided": written.get("undecided", 0), "on_no_decision": policy,
               "benchmark_problems": len(index.benchmarks), "ngram": index.n,
               "removed_by_benchmark_subset": dict(subsets), "llm_replies": replies, "llm": llm_slice(cfg),
               "bad_lines": sum(bad.values()), "decisions": tally.to_dict()}
        ctx.write_json("report.json", rep)
        ctx.log_metrics({k: rep[k] for k in ("kept", "removed", "undecided")})
