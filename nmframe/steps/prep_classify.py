"""prep_classify: remove proof / multiple-choice / yes-no / invalid problems, rules first.

Input: ``extract_answers``, else ``extract_problems``, else ``ingest``. Confident heuristics
decide, the LLM (one prompt per category) is asked about the rest (:mod:`nmframe.prep.classify`);
categories removed: ``filters.classify_remove``. Output: ``problems.jsonl`` (kept), ``removed.jsonl``,
``undecided.jsonl`` (no decision, with ``prep.on_no_decision=hold``; with ``keep`` they stay in
problems.jsonl, marked), each row with ``prep.classify``; ``report.json``.
"""
from __future__ import annotations

import collections

from nmframe.engine import Resources, Step, StepContext, TaskSpec, register_step
from nmframe.filters.classify import CATEGORIES
from nmframe.prep import prompts
from nmframe.prep.classify import decide_categories
from nmframe.prep.llm import llm_slice, open_prep_llm
from nmframe.prep.stepio import DecisionTally, Outputs, chunks, read_rows, upstream
from nmframe.progress import track

INPUTS = ("extract_answers", "extract_problems", "ingest")
ON_NO_DECISION = ("hold", "keep")


def check_on_no_decision(cfg) -> str:
    v = str(cfg.prep.on_no_decision)
    if v not in ON_NO_DECISION:
        raise ValueError(f"prep.on_no_decision must be one of {ON_NO_DECISION}, got {v!r}")
    return v


@register_step
class PrepClassify(Step):
    name = "prep_classify"
    VERSION = "1"
    description = "drop proof / multiple-choice / yes-no / invalid problems (confident rules, LLM for the rest)"
    inputs = INPUTS
    slice_paths = ("filters.classify_remove", "prep.on_no_decision")

    def tasks(self, cfg, dag):
        _, task = upstream(dag, INPUTS, self.name)
        return [TaskSpec(params={}, inputs={"problems": task})]

    def config_slice(self, cfg, params):
        out = super().config_slice(cfg, params)
        out["llm"] = llm_slice(cfg)
        out["prompts"] = prompts.fingerprint(*(f"classify_{c}" for c in CATEGORIES))
        return out

    def resources(self, cfg, params):
        return Resources(cpus=2, time_min=600, mem_gb=8)

    def run(self, ctx: StepContext) -> None:
        cfg = ctx.cfg
        policy = check_on_no_decision(cfg)
        remove = [str(c) for c in cfg.filters.classify_remove]
        unknown = sorted(set(remove) - set(CATEGORIES))
        if unknown:
            raise ValueError(f"filters.classify_remove has unknown categories {unknown}; known: {list(CATEGORIES)}")
        bad: collections.Counter = collections.Counter()
        tally, replies = DecisionTally(int(cfg.prep.report_examples)), {}
        rows = read_rows(ctx.inputs["problems"] / "problems.jsonl", bad)
        with open_prep_llm(cfg, ctx.out_dir) as llm, Outputs(ctx.out_dir, ("problems", "removed", "undecided")) as out:
            for chunk in chunks(track(rows, "prep_classify"), 4 * int(cfg.prep.batch_size)):
                for r, d in zip(chunk, decide_categories([r["problem"] for r in chunk], llm, remove, replies)):
                    r.setdefault("prep", {})["classify"] = d.record(category=d.value)
                    if not d.decided:
                        tally.add(r.get("data_source"), d.decided_by, "undecided",
                                  {"id": r["id"], "origin": r.get("origin"), "reason": d.reason})
                        ctx.log.warning("no classification for %s: %s", r.get("origin"), d.reason)
                        out.write("undecided" if policy == "hold" else "problems", r)
                    elif d.value in remove:
                        tally.add(r.get("data_source"), d.decided_by, str(d.value))
                        out.write("removed", r)
                    else:
                        tally.add(r.get("data_source"), d.decided_by, "ok")
                        out.write("problems", r)
            written = dict(out.counts)
        rep = {"kept": written.get("problems", 0), "removed": written.get("removed", 0),
               "undecided": written.get("undecided", 0), "on_no_decision": policy, "llm_replies": replies,
               "llm": llm_slice(cfg), "bad_lines": sum(bad.values()), "decisions": tally.to_dict()}
        ctx.write_json("report.json", rep)
        ctx.log_metrics({k: rep[k] for k in ("kept", "removed", "undecided")})
