"""generate: sample the teacher on every problem, per reasoning mode x TIR x seed x shard.

Why a step per (mode, tir, seed, shard): each is an independent, cacheable unit of days of GPU
work; adding seeds (teacher.num_samples 8 -> 16) or a mode reuses every task already computed,
because the key holds only what changes the samples: the teacher's model, backend and
sampling settings, the TIR limits (TIR tasks only), `generate.shards`/`max_problems`/`seed`/
`max_model_len`, the fan-out params and the ingest key. Knobs of speed (batch size, concurrency,
workers, endpoint, tensor parallelism, timeouts) are not part of it.

Resume across kills: the engine gives `run()` a fresh temporary directory per attempt, which a
killed task loses. So records are appended to a stable scratch file keyed by the task key,
`<paths.outputs>/scratch/generate/<key>/samples.partial.jsonl` (fsynced per record); a
restarted task repairs a torn last line, skips every record already there, generates the rest,
renames the file to `samples.jsonl` when complete and links (or copies, across file systems) it
into the artifact. The engine removes the scratch folder once the artifact is committed
(`paths.keep_scratch=true` keeps it).

Output: `samples.jsonl` (one record per problem of the shard; see `nmframe.generation.tir` for
the fields; in completion order) and `summary.json` (counts by finish reason, tool calls, mean
tokens, errors, what was resumed).
"""
from __future__ import annotations

import contextlib
import math
import os
import shutil
from pathlib import Path

from nmframe.datafiles import read_jsonl
from nmframe.engine import Resources, Step, StepContext, TaskSpec, register_step
from nmframe.engine.step import scratch_dir as engine_scratch_dir
from nmframe.engine.step import select
from nmframe.generation.registry import backend_class


def scratch_dir(cfg, key: str) -> Path:
    return engine_scratch_dir(cfg, "generate", key)


def _link_or_copy(src: Path, dst: Path) -> str:
    try:
        os.link(src, dst)
        return "hardlink"
    except OSError:
        shutil.copy2(src, dst)
        return "copy"


@register_step
class Generate(Step):
    name = "generate"
    VERSION = "1"
    description = "teacher samples (harmony prompts, Python tool loop) per mode x tir x seed x shard"
    produces = "samples"
    slice_paths = ("teacher.model", "teacher.backend", "teacher.temperature", "teacher.top_p", "teacher.max_tokens",
                   "generate.shards", "generate.max_problems", "generate.seed", "generate.max_model_len")
    extra_reads = ("mode.efforts", "tir.enabled", "teacher.num_samples",  # the fan-out
                   "tir.max_calls", "tir.output_chars", "tir.call_timeout_s")  # TIR tasks' slice

    def tasks(self, cfg, dag):
        problems = dag.nearest("problems", before=self.name)  # the filtered problems when filters run
        specs = []
        for mode in cfg.mode.efforts:
            for tir in cfg.tir.enabled:
                for seed in range(int(cfg.teacher.num_samples)):
                    for shard in range(int(cfg.generate.shards)):
                        specs.append(TaskSpec(params={"mode": str(mode), "tir": bool(tir), "seed": seed,
                                                      "shard": shard}, inputs={"problems": problems}))
        return specs

    def config_slice(self, cfg, params):
        out = select(cfg, *self.slice_paths)
        if params.get("tir"):
            out.update(select(cfg, "tir.max_calls", "tir.output_chars", "tir.call_timeout_s"))
        t = select(cfg, "teacher.backend", "teacher.model")  # select(): read once per plan, not per task
        content = getattr(backend_class(str(t["teacher.backend"])), "content_fingerprint", None)
        if content is not None:  # a backend whose samples follow files behind teacher.model (replay)
            out["teacher.content"] = content(str(t["teacher.model"]))
        return out

    def resources(self, cfg, params):
        # through select(): the same for every task of the fan-out, so a plan reads the config once
        c = select(cfg, "generate.cpus", "generate.time_min", "generate.mem_gb", "teacher.backend",
                   "teacher.endpoint", "teacher.gpus_per_node", "teacher.tensor_parallel_size")
        cpus, time_min, mem_gb = c["generate.cpus"], c["generate.time_min"], c["generate.mem_gb"]
        backend = str(c["teacher.backend"])
        if backend == "vllm" or (backend == "openai" and not c["teacher.endpoint"]):
            per_node = max(1, int(c["teacher.gpus_per_node"] or 1))
            tp = max(1, int(c["teacher.tensor_parallel_size"]))
            nodes = math.ceil(tp / per_node)
            return Resources(cpus=cpus, gpus=min(tp, per_node), nodes=nodes, time_min=time_min, mem_gb=mem_gb)
        return Resources(cpus=cpus, time_min=time_min, mem_gb=mem_gb)

    def run(self, ctx: StepContext) -> None:
        from nmframe.generation.registry import BackendSpec, open_backend
        from nmframe.generation.shard_runner import (generate_shard, open_shard, shard_of, summarize)
        from nmframe.generation.shards import read_records
        from nmframe.generation.tir import LoopSettings

        cfg, p = ctx.cfg, ctx.params
        gen = cfg.generate
        problems = read_jsonl(ctx.inputs["problems"] / "problems.jsonl")
        total = len(problems)
        if gen.max_problems is not None:
            problems = problems[:gen.max_problems]
        mine = [pr for pr in problems if shard_of(pr["id"], gen.shards) == p["shard"]]
        scratch = scratch_dir(cfg, ctx.task.key)
        writer = open_shard(scratch, fsync=gen.fsync)
        ctx.log.info("generate %s: %d of %d problems in shard %d/%d; scratch %s", ctx.task.id, len(mine),
                     total, p["shard"], gen.shards, scratch)
        stats = {"problems": len(mine), "resumed": writer.resumed, "generated": 0,
                 "torn_bytes_repaired": writer.repaired_bytes}
        try:
            if not writer.done:
                settings = LoopSettings(
                    max_tokens=int(cfg.teacher.max_tokens), temperature=float(cfg.teacher.temperature),
                    top_p=float(cfg.teacher.top_p), max_calls=int(cfg.tir.max_calls),
                    output_chars=int(cfg.tir.output_chars), call_timeout_s=float(cfg.tir.call_timeout_s),
                    tool_workers=int(gen.tool_workers), count_teacher_tokens=bool(gen.count_teacher_tokens))
                with contextlib.ExitStack() as stack:
                    backend = stack.enter_context(open_backend(BackendSpec.from_teacher(cfg), log_dir=scratch))
                    sandbox, isolation = None, {"mode": "unused"}  # no model-written code runs
                    if p["tir"] and mine:
                        from nmframe.sandbox.policy import open_for_untrusted_code

                        sandbox, isolation = open_for_untrusted_code(
                            bool(cfg.sandbox.allow_unisolated), ctx.log, cfg.sandbox.cgroup_parent,
                            max_sessions=gen.sandbox_sessions, memory_mb=gen.sandbox_memory_mb,
                            output_chars=int(cfg.tir.output_chars), default_timeout=float(cfg.tir.call_timeout_s))
                        stack.enter_context(sandbox)
                    ctx.log_metrics({"sandbox_isolation": isolation})

                    def progress(done, todo):
                        ctx.log.info("generate %s: %d/%d samples", ctx.task.id, done, todo)

                    got = generate_shard(mine, mode=p["mode"], tir=p["tir"], seed=p["seed"], backend=backend,
                                         settings=settings, writer=writer, batch_size=int(gen.batch_size),
                                         seed_base=int(gen.seed), sandbox=sandbox, progress=progress)
                    stats["generated"] = got["generated"]
                    stats["backend"], stats["model"] = backend.name, backend.model
            else:
                ctx.log.info("generate %s: shard already complete in scratch, reusing it", ctx.task.id)
        finally:
            writer.close()
        how = _link_or_copy(writer.final, ctx.out_dir / "samples.jsonl")
        summary = summarize(rec for _, rec in read_records(ctx.out_dir / "samples.jsonl"))
        if summary["records"] != len(mine):
            raise RuntimeError(f"{writer.final} has {summary['records']} records for {len(mine)} problems")
        summary.update(params=dict(p), shard=stats, scratch=str(scratch), artifact_file=how)
        ctx.write_json("summary.json", summary)
        ctx.log_metrics({"records": summary["records"], "generated": stats["generated"],
                         "resumed": stats["resumed"], "errors": summary["finish_reason"]["error"],
                         "length": summary["finish_reason"]["length"],
                         "tool_calls": summary["tool_calls"]["total"],
                         "with_final_answer": summary["with_final_answer"],
                         "mean_completion_tokens": summary["tokens_mean"]["completion"] or 0})
