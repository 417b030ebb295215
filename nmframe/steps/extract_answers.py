"""extract_answers: the reference answer of each extracted problem, from its thread.

Input: ``extract_problems`` (its rows carry the threads' answers). Rules first (a ``\\boxed{}``
answer in the accepted answer, boxes that all agree, no answers at all), the LLM for the rest
(:mod:`nmframe.curation.answers`). Output:
``problems.jsonl`` (every input problem, ``expected_answer`` set when an answer was found, the
decision in ``prep.answer``), ``report.json``. A problem without a decision keeps
``expected_answer = null`` (answer validation fills it by majority) and is counted.
"""
from __future__ import annotations

import collections

from nmframe.curation import prompts
from nmframe.curation.answers import PROMPT, decide_answers
from nmframe.curation.llm import LLM_SLICE_READS, llm_gpus, llm_slice, open_llm
from nmframe.curation.stepio import Outputs, chunks, iter_problems
from nmframe.curation.tally import Tally
from nmframe.engine import Resources, Step, StepContext, TaskSpec, register_step
from nmframe.progress import track


@register_step
class ExtractAnswers(Step):
    name = "extract_answers"
    VERSION = "1"
    description = "reference answers from the threads' discussions (rules first, LLM for the rest)"
    inputs = ("extract_problems",)
    produces = "problems"
    extra_reads = LLM_SLICE_READS

    def tasks(self, cfg, dag):
        return [TaskSpec(params={}, inputs={"problems": dag.one("extract_problems")})]

    def config_slice(self, cfg, params):
        return {"llm": llm_slice(cfg, str(cfg.prep.backend)), "prompts": prompts.fingerprint(PROMPT)}

    def resources(self, cfg, params):
        gpus, nodes = llm_gpus(cfg, str(cfg.prep.backend))  # the task serves the LLM itself
        return Resources(cpus=2, gpus=gpus, nodes=nodes, time_min=600, mem_gb=None if gpus else 8)

    def run(self, ctx: StepContext) -> None:
        bad: collections.Counter = collections.Counter()
        tally, replies = Tally(int(ctx.cfg.prep.report_examples)), {}
        rows = iter_problems(ctx.inputs["problems"] / "problems.jsonl", bad)
        with open_llm(ctx.cfg, str(ctx.cfg.prep.backend), ctx.out_dir) as llm, Outputs(ctx.out_dir, ("problems",)) as out:
            for chunk in chunks(track(rows, "extract_answers"), 4 * int(ctx.cfg.prep.batch_size)):
                for r, d in zip(chunk, decide_answers(chunk, llm, replies)):
                    r["expected_answer"] = d.value if d.decided else None
                    r.setdefault("prep", {})["answer"] = d.record(answer=d.value)
                    outcome = "undecided" if not d.decided else ("answer" if d.value is not None else "no answer")
                    tally.add(r.get("data_source"), outcome, decided_by=d.decided_by,
                              example={"id": r["id"], "origin": r.get("origin"), "reason": d.reason}
                              if not d.decided else None)
                    if not d.decided:
                        ctx.log.warning("no answer decision for %s: %s", r.get("origin"), d.reason)
                    out.write("problems", r)
            n = out.counts["problems"]
        llm = llm_slice(ctx.cfg, str(ctx.cfg.prep.backend))
        ctx.write_json("report.json", {"problems": n, "llm_replies": replies, "llm": llm,
                                       "bad_lines": sum(bad.values()), "bad_examples": list(bad)[:20],
                                       "decisions": tally.to_dict()})
        d = tally.to_dict()
        ctx.log_metrics({"problems": n, **{f"outcome/{k}": v for k, v in d["by_reason"].items()},
                         **{f"decided_by/{k}": v for k, v in d.get("by_decided_by", {}).items()}})
