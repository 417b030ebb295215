"""stream_released: released Nemotron-Math-v2 rows (JSONL or Parquet, any size) -> per-bucket Parquet
files, packed bins and a summary, with bounded memory and resume after a kill.

Why a step: many users start from the released 7.5M traces rather than from generation, and
filter, re-bucket and pack them for their own schedule. Loading them would take tens of GB; this
step streams them (:mod:`nmframe.stream`): validation, the answer filter, the pass-rate filter
from ``metadata`` (``filters.trivial_*``), lengths from a length column or the student tokenizer,
buckets from ``buckets.stages``, packing per bucket.

Inputs: ``stream.files`` (JSONL or Parquet files, folders or globs: the release's
``data/high.part_00.jsonl`` ... ``medium.jsonl``, ``low.jsonl`` as they are), else ``source.files``. The key holds
the files' fingerprints and every setting that changes the output. Progress is checkpointed
under ``<paths.outputs>/scratch/stream_released/<key>``, so a killed task continues from its
last finished part when run again. Output: see :mod:`nmframe.stream.runner`.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from nmframe.config.stage_plan import build_stage_plan
from nmframe.datafiles import fingerprint, resolve
from nmframe.engine import Resources, Step, StepContext, register_step
from nmframe.engine.step import scratch_dir as engine_scratch_dir

if TYPE_CHECKING:
    from nmframe.stream import StreamSettings

# nmframe.stream (pyarrow.compute: a third of a second) is imported when a task runs, not when
# a plan imports every step


def input_files(cfg) -> list[Path]:
    from nmframe.stream.sources import SUFFIXES

    specs = [str(p) for p in cfg.stream.files] or [str(f.path) for f in cfg.source.files]
    files: list[Path] = []
    for spec in specs:
        found = [p for p in resolve(spec) if p.suffix in SUFFIXES]
        if not found:
            raise FileNotFoundError(f"stream_released: no JSONL or Parquet files at {spec} "
                                    "(set stream.files, or source.files / paths.data)")
        files.extend(found)
    return list(dict.fromkeys(files))


def settings(cfg) -> StreamSettings:
    from nmframe.stream import StreamSettings

    st, f = cfg.stream, cfg.filters
    lc = st.length_column
    plan = build_stage_plan(cfg)
    return StreamSettings(
        stage_names=plan.names, edges=plan.edges,
        length_column=None if lc in (None, "", "null", "none") else str(lc),
        drop_no_answer=bool(st.drop_no_answer), drop_trivial=bool(st.drop_trivial),
        drop_changed_answer=bool(st.drop_changed_answer), trivial_threshold=float(f.trivial_threshold),
        trivial_strict=bool(f.trivial_strict), trivial_mode=str(f.trivial_mode),
        include_modes=[str(m) for m in st.include_modes], include_tir=[bool(t) for t in st.include_tir],
        include_data_sources=[str(s) for s in cfg.source.include_data_sources],
        batch_rows=int(st.batch_rows), checkpoint_rows=int(st.checkpoint_rows),
        tokenizer=str(cfg.model.tokenizer), vocab_size=int(cfg.model.vocab_size),
        workers=st.workers, pack=bool(st.pack), pack_multiple=int(st.pack_multiple),
        keep_columns=[str(c) for c in st.keep_columns])


def scratch_dir(cfg, key: str) -> Path:
    return engine_scratch_dir(cfg, "stream_released", key)


@register_step
class StreamReleased(Step):
    name = "stream_released"
    VERSION = "1"
    description = "stream released rows: validate, answer/pass-rate filters, token counts, buckets, packing (bounded memory, resumable)"
    slice_paths = ("stream", "buckets.stages", "filters.trivial_threshold", "filters.trivial_strict",
                   "filters.trivial_mode", "source.include_data_sources")
    extra_reads = ("source.files", "model.tokenizer", "model.vocab_size")

    def input_files(self, cfg, params):
        if cfg.stream.files:
            return [(f"stream.files[{i}]", str(p)) for i, p in enumerate(cfg.stream.files)]
        return [(f"source.files[{i}].path", str(f.path)) for i, f in enumerate(cfg.source.files)]

    def config_slice(self, cfg, params):
        """Keyed by the files' contents (size+mtime beyond 64 MiB), not their locations; the
        tokenizer only matters when lengths are counted; speed knobs are left out."""
        out = super().config_slice(cfg, params)
        for k in ("files", "workers", "batch_rows"):
            out["stream"].pop(k, None)
        try:
            out["files"] = [[p.name, fingerprint(p)] for p in input_files(cfg)]
        except FileNotFoundError as exc:  # reported when the task runs, like ingest's missing files
            out["files"] = f"MISSING: {exc}"

        if cfg.stream.length_column in (None, "", "null", "none", "auto"):
            out["tokenizer"] = [str(cfg.model.tokenizer), int(cfg.model.vocab_size)]
        return out

    def resources(self, cfg, params):
        return Resources(cpus=int(cfg.stream.workers or 4), time_min=240, mem_gb=8)

    def run(self, ctx: StepContext) -> None:
        from nmframe.stream import run_stream

        cfg = ctx.cfg
        files = input_files(cfg)
        ctx.log.info("stream_released: %d file(s)", len(files))
        rep = run_stream(files, ctx.out_dir, scratch_dir(cfg, ctx.task.key), settings(cfg), ctx.log)
        ctx.log_metrics({"rows_in": rep["rows_in"], "rows_kept": rep["rows_kept"],
                         "rows_dropped": rep["rows_dropped"], "resumed_parts": rep["resumed_parts"],
                         **{f"bucket/{k}": v for k, v in rep["per_bucket"].items()},
                         **{f"dropped/{k}": v for k, v in rep["dropped_by_reason"].items()},
                         **{f"excluded_data_source/{k}": v for k, v in rep["excluded_data_sources"].items()}})
