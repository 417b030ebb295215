"""extract_problems: raw forum sources -> canonical ``problems.jsonl`` (the same file ingest writes).

Why a step: the recipe's problems come from raw AoPS threads and StackExchange dumps, not from a
ready problem list, so a pipeline can start here instead of at ``ingest``:
``pipeline.steps=[extract_problems, extract_answers, classify, decontaminate]`` with
``source=aops_forum_raw`` or ``source=stackexchange_raw``.

Inputs: ``source.files``: ``.xml`` files are StackExchange ``Posts.xml`` dumps (the site from the
folder name, the cut-off ``prep.cutoff_date``), other files AoPS-style thread dumps (JSONL or
Parquet, ``schema: aops_forum`` or ``auto``). Each post is decided by a rule or the LLM
(:mod:`nmframe.curation.extract`). Output: ``problems.jsonl`` (one row per problem, canonical fields
plus ``answers`` and ``prep.extract``), ``no_problem.jsonl`` (posts with no problem, with the
decision), ``undecided.jsonl`` (posts without a decision), ``report.json``.
"""
from __future__ import annotations

import collections
import itertools
import os
from pathlib import Path

from nmframe.curation import prompts
from nmframe.curation.extract import PROMPT, decide_problems, problem_rows
from nmframe.curation.llm import LLM_SLICE_READS, llm_gpus, llm_slice, open_llm
from nmframe.curation.stepio import Outputs, chunks
from nmframe.curation.tally import Tally
from nmframe.datafiles import fingerprint, resolve
from nmframe.engine import Resources, Step, StepContext, register_step
from nmframe.progress import track
from nmframe.sources import read_aops, read_posts_xml


class ExtractError(RuntimeError):
    pass


def raw_files(cfg, missing_ok: bool = False) -> list[tuple[dict, list[Path]]]:
    """Each source file spec with the files it names; a spec naming nothing is an error, or with
    ``missing_ok`` (planning, before the data exists) an empty list."""
    out = []
    for spec in cfg.source.files:
        path = str(spec.path)
        if str(spec.schema) not in ("auto", "aops_forum"):
            raise ExtractError(f"extract_problems reads raw sources (AoPS thread dumps, StackExchange Posts.xml); "
                               f"{path} has schema {spec.schema}: use the ingest step for it")
        found = resolve(path)
        folder = Path(os.path.expanduser(path))
        if folder.is_dir():
            found = sorted(set(found) | set(folder.rglob("Posts.xml")))
        if not found and not missing_ok:
            raise ExtractError(f"source file not found: {path} (source={cfg.source.name}); "
                               "point source.files[].path or paths.data at the raw dumps")
        out.append((spec, found))
    return out


def threads(cfg, skipped: collections.Counter, scratch: Path):
    for spec, paths in raw_files(cfg):
        for p in paths:
            if p.suffix == ".xml":
                yield from read_posts_xml(p, cutoff=str(cfg.prep.cutoff_date), skipped=skipped, scratch=scratch,
                                          data_source=spec.data_source or "stackexchange")
            else:
                yield from read_aops(p, data_source=spec.data_source or "aops", skipped=skipped, fmt=str(spec.format))


@register_step
class ExtractProblems(Step):
    name = "extract_problems"
    VERSION = "1"
    description = "raw AoPS threads / StackExchange Posts.xml -> problems (rules first, LLM for the rest)"
    produces = "problems"
    slice_paths = ("source", "prep.cutoff_date", "prep.rule_max_sentences", "prep.rule_max_chars", "prep.max_posts")
    extra_reads = LLM_SLICE_READS

    def input_files(self, cfg, params):
        return [(f"source.files[{i}].path", str(f.path)) for i, f in enumerate(cfg.source.files)]

    def config_slice(self, cfg, params):
        out = super().config_slice(cfg, params)
        for f in out["source"]["files"]:
            f.pop("path", None)
        out["files"] = [[[p.name, fingerprint(p)] for p in paths] or f"MISSING: {spec.path}"
                        for spec, paths in raw_files(cfg, missing_ok=True)]
        out["llm"] = llm_slice(cfg, str(cfg.prep.backend))
        out["prompts"] = prompts.fingerprint(PROMPT)
        return out

    def resources(self, cfg, params):
        gpus, nodes = llm_gpus(cfg, str(cfg.prep.backend))  # the task serves the LLM itself
        return Resources(cpus=2, gpus=gpus, nodes=nodes, time_min=600, mem_gb=None if gpus else 8)

    def run(self, ctx: StepContext) -> None:
        cfg = ctx.cfg
        p = cfg.prep
        skipped: collections.Counter = collections.Counter()
        tally, replies = Tally(int(p.report_examples)), {}
        seen: set[str] = set()
        counts = collections.Counter()
        source = threads(cfg, skipped, ctx.out_dir)
        if p.max_posts is not None:
            source = itertools.islice(source, int(p.max_posts))
        with open_llm(cfg, str(p.backend), ctx.out_dir) as llm, Outputs(ctx.out_dir, ("problems", "no_problem", "undecided")) as out:
            for chunk in chunks(track(source, "extract_problems"), 4 * int(p.batch_size)):
                decisions = decide_problems(chunk, llm, max_sentences=int(p.rule_max_sentences),
                                            max_chars=int(p.rule_max_chars), replies=replies)
                for t, d in zip(chunk, decisions):
                    counts["posts"] += 1
                    if not d.decided:
                        out.write("undecided", {**t.to_dict(), "prep": {"extract": d.record()}})
                        tally.add(t.data_source, "undecided", kept=None, decided_by=d.decided_by,
                                  example={"origin": t.origin, "reason": d.reason})
                        ctx.log.warning("no decision for %s: %s", t.origin, d.reason)
                        continue
                    rows = problem_rows(t, d)
                    if not rows:
                        out.write("no_problem", {**t.to_dict(), "prep": {"extract": d.record()}})
                        tally.add(t.data_source, "no problem", kept=False, decided_by=d.decided_by)
                        continue
                    tally.add(t.data_source, f"{len(rows)} problem(s)" if len(rows) > 1 else "1 problem",
                              decided_by=d.decided_by)
                    for r in rows:
                        if r["id"] in seen:
                            counts["duplicates"] += 1
                            continue
                        seen.add(r["id"])
                        out.write("problems", r)
            written = dict(out.counts)
        if counts["posts"] == 0:
            raise ExtractError(f"no posts read from source {cfg.source.name}; skipped: {dict(skipped)}")
        report = {"source": cfg.source.name, "posts": counts["posts"], "problems": written.get("problems", 0),
                  "posts_without_problem": written.get("no_problem", 0), "undecided": written.get("undecided", 0),
                  "duplicates": counts["duplicates"], "skipped": dict(skipped), "llm_replies": replies,
                  "llm": llm_slice(cfg, str(p.backend)), "decisions": tally.to_dict()}
        ctx.write_json("report.json", report)
        ctx.log.info("extract_problems: %d posts -> %d problems; %d undecided; skipped %s", counts["posts"],
                     report["problems"], report["undecided"], dict(skipped))
        ctx.log_metrics({"posts": counts["posts"], "problems": report["problems"], "undecided": report["undecided"],
                         **{f"skipped/{k}": v for k, v in skipped.items()}})
