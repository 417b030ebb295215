"""ingest: problems from the user's files (JSONL or Parquet, any supported shape, or a
StackExchange ``Posts.xml`` dump) -> one canonical `problems.jsonl` with stable ids.

Why a step: every later step (answer validation, generation, evaluation) reads one schema, and a
changed input file must change the key of everything downstream, so the key includes each input
file's fingerprint. Bad lines are counted and reported with file:line; the step fails only when
more than `ingest.max_bad_fraction` of the lines are bad, and then says which.

A ``.xml`` file is read as a StackExchange ``Posts.xml`` (:func:`nmframe.sources.read_posts_xml`,
posts before ``prep.cutoff_date``): each question becomes a problem (its body; the title, tags and
score go to ``metadata``), its accepted and top-voted answers the ``discussion`` that answer
validation reads. Posts the reader skips (other post types, after the cut-off) are counted in the
report, not as bad lines.
"""
from __future__ import annotations

import collections
import os
from pathlib import Path

from omegaconf import OmegaConf

from nmframe.datafiles import fingerprint, iter_rows, resolve, write_jsonl
from nmframe.engine import Resources, Step, StepContext, register_step
from nmframe.problems.canonical import CANONICAL_FIELDS, RowError, normalise_text, problem_id, to_canonical
from nmframe.progress import track


class IngestError(RuntimeError):
    pass


def source_files(cfg) -> list[tuple[dict, list]]:
    return [(f, resolve(f.path)) for f in cfg.source.files]


def is_posts_xml(path: Path) -> bool:
    return Path(path).suffix.lower() == ".xml"


def posts_xml_rows(path: Path, cutoff: str, data_source: str | None, skipped: collections.Counter):
    """(number, canonical problem, None) per question of a StackExchange Posts.xml, numbered in
    Id order like the lines of a row file."""
    from nmframe.sources import read_posts_xml

    for n, thread in enumerate(read_posts_xml(path, cutoff=cutoff, data_source=data_source or "stackexchange",
                                              skipped=skipped), start=1):
        prob = dict.fromkeys(CANONICAL_FIELDS)
        prob.update(id=problem_id(thread.post), problem=thread.post, data_source=thread.data_source,
                    discussion=thread.discussion, license=thread.license, url=thread.url, origin=thread.origin,
                    metadata={**thread.metadata, "source_id": thread.source_id, "title": thread.title,
                              "created": thread.created})
        yield n, prob, None


@register_step
class Ingest(Step):
    name = "ingest"
    VERSION = "1"
    description = "read problems (canonical, AoPS forum dumps, released rows, benchmarks) into one schema"
    produces = "problems"
    slice_paths = ("source", "ingest")

    def input_files(self, cfg, params):
        return [(f"source.files[{i}].path", str(f.path)) for i, f in enumerate(cfg.source.files)]

    def config_slice(self, cfg, params):
        """Keyed by file contents, not locations: moving the data does not invalidate the cache."""
        out = super().config_slice(cfg, params)
        files = []
        for spec, paths in source_files(cfg):
            base = Path(paths[0]).parent if len(paths) == 1 else Path(os.path.commonpath(paths)) if paths else None
            if paths:
                files.append([[str(p.relative_to(base)), fingerprint(p)] for p in paths])
            else:
                files.append(f"MISSING: {spec.path}")
        for f in out["source"]["files"]:
            f.pop("path", None)
        out["files"] = files
        if any(is_posts_xml(p) for _, paths in source_files(cfg) for p in paths):
            out["cutoff_date"] = str(cfg.prep.cutoff_date)   # which posts of a Posts.xml count
        return out

    def resources(self, cfg, params):
        return Resources(cpus=1, time_min=60, mem_gb=8)

    def run(self, ctx: StepContext) -> None:
        cfg = ctx.cfg
        include = set(cfg.source.include_data_sources)
        counts = collections.Counter()
        per_source = collections.Counter()
        xml_skipped = collections.Counter()
        bad_examples, dup_examples = [], []
        seen: dict[str, str] = {}
        kept = []
        limit = cfg.source.max_problems
        for spec, paths in source_files(cfg):
            if not paths:
                raise IngestError(f"source file not found: {spec.path} (source={cfg.source.name}); "
                                  "point source.files[].path or paths.data at your data")
            for path in paths:
                rows = (posts_xml_rows(path, str(cfg.prep.cutoff_date), spec.data_source, xml_skipped)
                        if is_posts_xml(path) else iter_rows(path, spec.format))
                for line, row, err in track(rows, f"ingest {path.name}"):
                    counts["lines"] += 1
                    origin = f"{path}:{line}"
                    if is_posts_xml(path):
                        prob = row
                    elif err is None:
                        try:
                            prob = to_canonical(row, spec.schema, origin, spec.data_source)
                        except RowError as exc:
                            err = str(exc)
                    if err is not None:
                        counts["bad"] += 1
                        counts[f"bad: {err.split(' (')[0]}"] += 1
                        if len(bad_examples) < cfg.ingest.report_examples:
                            bad_examples.append({"origin": origin, "reason": err})
                        continue
                    if include and prob["data_source"] not in include:
                        counts["excluded_data_source"] += 1
                        continue
                    norm = normalise_text(prob["problem"]).lower()
                    if cfg.ingest.drop_duplicates and norm in seen:
                        counts["duplicates"] += 1
                        if len(dup_examples) < cfg.ingest.report_examples:
                            dup_examples.append({"origin": origin, "first_seen": seen[norm]})
                        continue
                    seen[norm] = origin
                    if limit is not None and len(kept) >= limit:
                        counts["over_max_problems"] += 1
                        continue
                    if prob["expected_answer"] is None:
                        counts["missing_answer"] += 1
                    kept.append(prob)
                    per_source[prob["data_source"]] += 1
        ids = collections.Counter(p["id"] for p in kept)
        clashes = [i for i, n in ids.items() if n > 1]
        if clashes:
            raise IngestError(f"{len(clashes)} ids are used by different problems, e.g. {clashes[0]!r}: "
                              "ids in the input must be unique")
        bad_fraction = counts["bad"] / max(counts["lines"], 1)
        report = {
            "source": cfg.source.name, "lines": counts["lines"], "kept": len(kept),
            "bad": counts["bad"], "bad_fraction": round(bad_fraction, 6),
            "duplicates": counts["duplicates"], "missing_answer": counts["missing_answer"],
            "excluded_data_source": counts["excluded_data_source"],
            "over_max_problems": counts["over_max_problems"],
            "bad_reasons": {k[5:]: v for k, v in counts.items() if k.startswith("bad: ")},
            "skipped_posts": dict(xml_skipped),
            "per_data_source": dict(per_source), "bad_examples": bad_examples,
            "duplicate_examples": dup_examples,
        }
        ctx.write_json("report.json", report)
        for ex in bad_examples:
            ctx.log.warning("skipped %s: %s", ex["origin"], ex["reason"])
        ctx.log.info("ingest: %d lines, %d kept, %d bad, %d duplicates, %d without answer",
                     counts["lines"], len(kept), counts["bad"], counts["duplicates"], counts["missing_answer"])
        if bad_fraction > cfg.ingest.max_bad_fraction:
            first = "; ".join(f"{e['origin']}: {e['reason']}" for e in bad_examples[:5])
            raise IngestError(f"{counts['bad']} of {counts['lines']} lines are bad ({bad_fraction:.1%} > "
                              f"ingest.max_bad_fraction={cfg.ingest.max_bad_fraction}); first: {first}")
        if not kept:
            raise IngestError(f"no problems left from source {cfg.source.name} "
                              f"(include_data_sources={OmegaConf.to_container(cfg.source.include_data_sources)})")
        write_jsonl(ctx.out_dir / "problems.jsonl", kept)
        ctx.log_metrics({"problems": len(kept), "bad_lines": counts["bad"], "duplicates": counts["duplicates"],
                         "missing_answer": counts["missing_answer"]})
