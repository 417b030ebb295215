"""prepare_sft: kept teacher traces -> the student's token ids with assistant-only loss masks.

Why a step: rendering and tokenizing millions of long traces is the expensive part of data
preparation, and every stage of the schedule reads its result. The output depends on the traces
(input keys), the template and the student's tokenizer, which form the key; a change of bucket
edges or packing does not re-tokenize anything.

Input: every task of the step named by ``sft.input_step`` (``filter_correct`` by default; the
quickstart uses ``generate``). Each artifact holds ``samples.jsonl`` / ``traces.jsonl`` (or
``.parquet``) rows with ``problem_id``, ``problem``, ``mode``, ``tir``, ``seed`` and ``completion``
(harmony text after the prompt) and/or ``messages``; rows with ``correct`` or ``kept`` false
are not used. Output: the arrays of :mod:`nmframe.sft.store` plus ``report.json``
(skips by reason, traces and tokens per mode x TIR, length percentiles).
"""
from __future__ import annotations

import collections
from pathlib import Path

import numpy as np

from nmframe.datafiles import iter_rows
from nmframe.engine import Resources, Step, StepContext, TaskSpec, register_step
from nmframe.progress import track
from nmframe.sft.store import SftWriter
from nmframe.sft.tokenize import count_results, render_rows

TRACE_FILES = ("samples.jsonl", "traces.jsonl", "samples.parquet", "traces.parquet")


class PrepareSftError(RuntimeError):
    pass


def trace_files(artifact: Path) -> list[Path]:
    found = [artifact / n for n in TRACE_FILES if (artifact / n).exists()]
    if not found:
        have = ", ".join(sorted(p.name for p in artifact.iterdir())) if artifact.exists() else "nothing"
        raise PrepareSftError(f"{artifact}: no traces file ({' / '.join(TRACE_FILES)}); it holds: {have}")
    return found


def count_rows(files: list[Path]) -> int:
    n = 0
    for f in files:
        if f.suffix == ".parquet":
            import pyarrow.parquet as pq

            n += pq.ParquetFile(f).metadata.num_rows
        else:
            with open(f, "rb") as fh:
                n += sum(1 for line in fh if line.strip())
    return n


@register_step
class PrepareSft(Step):
    name = "prepare_sft"
    VERSION = "2"  # 2: tool outputs in openai-harmony's header; the system prompt states tir.call_timeout_s
    description = "render kept traces with the student's tokenizer: token ids + assistant-only loss masks"
    # tir.call_timeout_s: the harmony system prompt states it, as generation's prompt did
    slice_paths = ("sft.template", "sft.require_finished", "model.tokenizer", "tir.call_timeout_s")
    extra_reads = ("sft.input_step", "model.vocab_size")

    def tasks(self, cfg, dag):
        ups = dag.all(str(cfg.sft.input_step))
        if not ups:
            raise PrepareSftError(f"sft.input_step={cfg.sft.input_step!r} has no tasks in this pipeline")
        return [TaskSpec(params={}, inputs={f"traces{i:04d}": t for i, t in enumerate(ups)})]

    def config_slice(self, cfg, params):
        out = super().config_slice(cfg, params)
        if str(cfg.model.tokenizer).startswith("builtin:"):
            out["model.vocab_size"] = int(cfg.model.vocab_size)  # the builtin tokenizer is built to this size
        return out

    def resources(self, cfg, params):
        return Resources(cpus=max(1, int(cfg.sft.workers or 8)), time_min=240, mem_gb=32)

    def run(self, ctx: StepContext) -> None:
        cfg = ctx.cfg
        files = [f for name in sorted(ctx.inputs) for f in trace_files(ctx.inputs[name])]
        total = count_rows(files)
        counts: collections.Counter = collections.Counter()
        bad_examples = []

        def rows():
            for f in files:
                for line, row, err in iter_rows(f):
                    if err is not None:  # e.g. a torn last line of an interrupted writer
                        counts["bad_lines"] += 1
                        if len(bad_examples) < 20:
                            bad_examples.append(f"{f}:{line}: {err}")
                        continue
                    yield row

        writer = SftWriter(ctx.out_dir)
        skips = []
        per_cfg = collections.defaultdict(lambda: [0, 0])
        for res in track(render_rows(rows(), total, template=str(cfg.sft.template),
                                     tokenizer_name=str(cfg.model.tokenizer), vocab_size=int(cfg.model.vocab_size),
                                     workers=cfg.sft.workers, parallel_min=int(cfg.sft.parallel_min_traces),
                                     require_finished=bool(cfg.sft.require_finished),
                                     tool_timeout_s=float(cfg.tir.call_timeout_s)),
                         "prepare_sft", total=total):
            count_results(counts, res)
            if res[0] == "ok":
                _, ids, mask, meta = res
                writer.append(ids, mask, meta)
                key = f"{meta['mode']}/{'tir' if meta['tir'] else 'notir'}"
                per_cfg[key][0] += 1
                per_cfg[key][1] += int(ids.size)
            elif res[0] == "skip" and len(skips) < 20:
                skips.append(res[2])
        writer.close()
        for s in skips:
            ctx.log.warning("skipped trace: %s", s)
        for b in bad_examples:
            ctx.log.warning("bad line: %s", b)
        n = len(writer)
        lengths = np.asarray(writer._rows["length"], dtype=np.int64)
        pct = {f"p{q}": int(np.percentile(lengths, q)) for q in (50, 90, 99, 100)} if n else {}
        report = {
            "rows": total, "traces": n, "not_kept": counts["dropped"], "bad_lines": counts["bad_lines"],
            "skipped": {k[6:]: v for k, v in counts.items() if k.startswith("skip: ")},
            "skip_examples": skips, "bad_line_examples": bad_examples,
            "per_config": {k: {"traces": v[0], "tokens": v[1]} for k, v in sorted(per_cfg.items())},
            "tokens": int(lengths.sum()), "loss_tokens": int(sum(writer._rows["loss_tokens"])),
            "length_percentiles": pct, "template": str(cfg.sft.template), "tokenizer": str(cfg.model.tokenizer),
        }
        ctx.write_json("report.json", report)
        ctx.log.info("prepare_sft: %d rows -> %d traces (%d not kept, %d skipped, %d bad lines), %d tokens",
                     total, n, counts["dropped"], sum(report["skipped"].values()), counts["bad_lines"],
                     report["tokens"])
        if n == 0:
            raise PrepareSftError(f"no trainable traces in {len(files)} file(s): {total} rows, "
                                  f"{counts['dropped']} not kept, skipped: {report['skipped']}")
        ctx.log_metrics({"traces": n, "tokens": report["tokens"], "loss_tokens": report["loss_tokens"],
                         "not_kept": counts["dropped"], "skipped": sum(report["skipped"].values())})
