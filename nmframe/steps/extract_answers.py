"""extract_answers: the reference answer of each extracted problem, from its thread.

Input: ``extract_problems``. Rules first (a ``\\boxed{}`` answer in the accepted answer, boxes
that all agree, no answers at all), the LLM for the rest (:mod:`nmframe.prep.answers`). Output:
``problems.jsonl`` (every input problem, ``expected_answer`` set when an answer was found, the
decision in ``prep.answer``), ``report.json``. A problem without a decision keeps
``expected_answer = null`` (answer validation fills it by majority) and is counted.
"""
from __future__ import annotations

import collections

from nmframe.engine import Resources, Step, StepContext, TaskSpec, register_step
from nmframe.prep import prompts
from nmframe.prep.answers import PROMPT, decide_answers
from nmframe.prep.llm import llm_slice, open_prep_llm
from nmframe.prep.stepio import DecisionTally, Outputs, chunks, read_rows, upstream
from nmframe.progress import track


@register_step
class ExtractAnswers(Step):
    name = "extract_answers"
    VERSION = "1"
    description = "reference answers from the threads' discussions (rules first, LLM for the rest)"
    inputs = ("extract_problems",)

    def tasks(self, cfg, dag):
        _, task = upstream(dag, ("extract_problems",), self.name)
        return [TaskSpec(params={}, inputs={"problems": task})]

    def config_slice(self, cfg, params):
        return {"llm": llm_slice(cfg), "prompts": prompts.fingerprint(PROMPT)}

    def resources(self, cfg, params):
        return Resources(cpus=2, time_min=600, mem_gb=8)

    def run(self, ctx: StepContext) -> None:
        bad: collections.Counter = collections.Counter()
        tally, replies = DecisionTally(int(ctx.cfg.prep.report_examples)), {}
        rows = read_rows(ctx.inputs["problems"] / "problems.jsonl", bad)
        with open_prep_llm(ctx.cfg, ctx.out_dir) as llm, Outputs(ctx.out_dir, ("problems",)) as out:
            for chunk in chunks(track(rows, "extract_answers"), 4 * int(ctx.cfg.prep.batch_size)):
                for r, d in zip(chunk, decide_answers(chunk, llm, replies)):
                    r["expected_answer"] = d.value if d.decided else None
                    r.setdefault("prep", {})["answer"] = d.record(answer=d.value)
                    outcome = "undecided" if not d.decided else ("answer" if d.value is not None else "no answer")
                    tally.add(r.get("data_source"), d.decided_by, outcome,
                              {"id": r["id"], "origin": r.get("origin"), "reason": d.reason} if not d.decided else None)
                    if not d.decided:
                        ctx.log.warning("no answer decision for %s: %s", r.get("origin"), d.reason)
                    out.write("problems", r)
            n = out.counts["problems"]
        ctx.write_json("report.json", {"problems": n, "llm_replies": replies, "llm": llm_slice(ctx.cfg),
                                       "bad_lines": sum(bad.values()), "bad_examples": list(bad)[:20],
                                       "decisions": tally.to_dict()})
        d = tally.to_dict()
        ctx.log_metrics({"problems": n, **{f"outcome/{k}": v for k, v in d["by_outcome"].items()},
                         **{f"decided_by/{k}": v for k, v in d["by_decided_by"].items()}})
