"""evaluate: benchmark samples of the model under test, graded and scored, per benchmark x config.

Why a task per (benchmark, mode, tir, shard): each is an independent, cacheable unit (days of
GPU time at the paper's 120K-token budget); adding a config or a benchmark reuses every task
already computed. The key holds what changes the result: the model (the last train_stage task's
key for ``evaluate.model=student``, else the model id), the benchmark's VERSION and file
contents, the sampling settings, samples per problem, the problem cap, the TIR limits (TIR
tasks), the grader (math-verify timeout or the judge) and the resolved prompt format.

Prompt format (``evaluate.prompt_format``, resolved by nmframe.evaluation.configs): ``harmony``
runs the teacher's tool loop (nmframe.evaluation.sampling); ``chat`` renders the problem with the
model's own chat template, one completion per sample, only config high/notir
(nmframe.evaluation.chat_sampling). ``auto`` follows ``sft.template`` for the student and is
``chat`` for a base model.

Resume: samples are appended to ``<paths.outputs>/scratch/evaluate/<key>/samples.partial.jsonl``
(the resumable shards of nmframe.generation); a restarted task generates only what is missing.

Output: ``samples.jsonl`` (generation records), ``records.jsonl`` (one graded record per
sample: problem_id, subset, sample_index, predicted_answer, outcome, tokens, ...),
``scores.json`` (per subset and overall: pass@1 with SE and CI, pass@k, maj@k, no-answer,
ungraded, mean tokens; plus what was evaluated: model, tiny or not, config, samples).
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path

from nmframe.datafiles import fingerprint
from nmframe.engine import Resources, Step, StepContext, TaskSpec, register_step
from nmframe.engine.dag import DagError
from nmframe.engine.step import scratch_dir as engine_scratch_dir
from nmframe.engine.step import select


def scratch_dir(cfg, key: str) -> Path:
    return engine_scratch_dir(cfg, "evaluate", key)


def samples_per_problem(cfg, bench) -> int:
    n = cfg.evaluate.samples
    return int(n) if n is not None else int(bench.samples)


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


@register_step
class Evaluate(Step):
    name = "evaluate"
    VERSION = "2"  # 2: a student's tool outputs in openai-harmony's header, as it was trained
    description = "sample the model on each benchmark per mode x tir, grade (math-verify / LLM judge), score"
    inputs = ("train_stage",)
    slice_paths = ("evaluate.model", "evaluate.max_problems", "evaluate.shards", "evaluate.temperature",
                   "evaluate.top_p", "evaluate.max_tokens", "evaluate.seed")
    extra_reads = ("evaluate.benchmarks", "evaluate.configs", "evaluate.samples",  # the fan-out and samples
                   "evaluate.backend", "evaluate.prompt_format", "sft.template", "model.tiny",  # backend, format
                   "evaluate.comp_math_file", "evaluate.hle_math_file",  # benchmark files
                   "model.tokenizer", "model.vocab_size", "tir.max_calls", "tir.output_chars", "tir.call_timeout_s",
                   "evaluate.judge", "evaluate.judge_model", "prep.judge_llm", "answers.grade_timeout_s")  # conditional entries

    def tasks(self, cfg, dag):
        from nmframe.benchmarks import get_benchmark
        from nmframe.config.checks import ConfigError
        from nmframe.evaluation import parse_configs
        from nmframe.evaluation.configs import (PromptFormatError, check_prompt_format, how_resolved,
                                               resolve_prompt_format)

        configs = parse_configs(cfg.evaluate.configs)
        try:
            check_prompt_format(configs, resolve_prompt_format(cfg), how_resolved(cfg))
        except PromptFormatError as exc:
            raise ConfigError(exc.key, exc.value, exc.why) from exc
        inputs = {}
        if str(cfg.evaluate.model) == "student":
            if "train_stage" not in dag.by_step:
                raise DagError("evaluate.model=student evaluates the last train_stage checkpoint: put train_stage "
                               "before evaluate in pipeline.steps, or set evaluate.model to a model path / hub id")
            stages = dag.all("train_stage")
            inputs["model"] = max(stages, key=lambda t: int(t.params.get("index", 0)))
        specs = []
        for name in cfg.evaluate.benchmarks:
            get_benchmark(str(name))  # unknown names fail at plan time
            for c in configs:
                for shard in range(int(cfg.evaluate.shards)):
                    specs.append(TaskSpec(params={"benchmark": str(name), "mode": c.mode, "tir": c.tir,
                                                  "shard": shard}, inputs=dict(inputs)))
        return specs

    def input_files(self, cfg, params):
        from nmframe.benchmarks import get_benchmark

        bench = get_benchmark(params["benchmark"])
        path = bench.path(cfg)
        return [(bench.path_key, str(path))] if path else []

    def config_slice(self, cfg, params):
        from nmframe.benchmarks import get_benchmark
        from nmframe.evaluation.configs import resolve_prompt_format
        from nmframe.evaluation.model import backend_kind

        bench = get_benchmark(params["benchmark"])
        out = select(cfg, *self.slice_paths)
        out["samples"] = samples_per_problem(cfg, bench)
        out["benchmark_version"] = bench.VERSION
        out["backend"] = backend_kind(cfg)
        out["prompt_format"] = resolve_prompt_format(cfg)
        files = bench.files(cfg)
        out["benchmark_files"] = ([[p.name, fingerprint(p)] for p in files] if files
                                  else f"MISSING: {bench.path(cfg)}")
        if str(cfg.evaluate.model) == "student":
            out.update(select(cfg, "model.tokenizer", "model.vocab_size"))
        if params.get("tir"):
            out.update(select(cfg, "tir.max_calls", "tir.output_chars", "tir.call_timeout_s"))
        if bench.grader == "llm-judge":
            from nmframe.curation.llm import SERVED_SPECS, llm_slice

            out.update(select(cfg, "evaluate.judge", "evaluate.judge_model"))
            if cfg.evaluate.judge in SERVED_SPECS:
                out["judge_llm"] = llm_slice(cfg, str(cfg.evaluate.judge))
        else:
            out.update(select(cfg, "answers.grade_timeout_s"))
        return out

    def resources(self, cfg, params):
        """The evaluated model's GPUs; a served judge (evaluate.judge=judge_llm) is opened after the model
        is closed, on the same GPUs, so the task asks for the larger of the two."""
        from nmframe.benchmarks import get_benchmark
        from nmframe.curation.llm import llm_gpus
        from nmframe.evaluation.model import backend_kind

        ev = cfg.evaluate
        kind = backend_kind(cfg)
        gpus = int(ev.tensor_parallel_size) if kind == "vllm" or (kind == "openai" and not ev.endpoint) else 0
        if get_benchmark(params["benchmark"]).grader == "llm-judge":
            gpus = max(gpus, llm_gpus(cfg, ev.judge)[0])
        return Resources(cpus=int(ev.cpus), gpus=gpus, time_min=int(ev.time_min), mem_gb=None)

    def run(self, ctx: StepContext) -> None:
        from nmframe.benchmarks import get_benchmark
        from nmframe.curation.llm import SERVED_SPECS, load_backend
        from nmframe.evaluation.configs import resolve_prompt_format
        from nmframe.evaluation.model import open_model_backend, resolve_model
        from nmframe.evaluation.sampling import sample_problems
        from nmframe.evaluation.scoring import maj_convention, score
        from nmframe.generation.shard_runner import open_shard, shard_of
        from nmframe.generation.shards import read_records
        from nmframe.generation.tir import LoopSettings

        cfg, p, ev = ctx.cfg, ctx.params, ctx.cfg.evaluate
        bench = get_benchmark(p["benchmark"])
        n = samples_per_problem(cfg, bench)
        problems, load_report = bench.load(cfg, ev.max_problems)
        mine = [pr for pr in problems if shard_of(pr["id"], ev.shards) == p["shard"]]
        by_id = {pr["id"]: pr for pr in mine}
        if bench.grader == "llm-judge" and not ev.judge:
            raise RuntimeError(f"benchmark {bench.name} is graded by an LLM judge: set evaluate.judge=judge_llm "
                               "(with a judge_llm group choice, e.g. judge_llm=qwen2_5_32b_instruct) or "
                               "'module:factory' (e.g. nmframe.evaluation.judge:chat_endpoint with "
                               "evaluate.judge_endpoint=http://host:8000/v1)")
        # a judge client is built (and its settings checked) before sampling; a served judge (judge_llm)
        # opens once the evaluated model is closed, as it takes the same GPUs
        judge = load_backend(ev.judge, cfg) if bench.grader == "llm-judge" and ev.judge not in SERVED_SPECS else None
        scratch = scratch_dir(cfg, ctx.task.key)
        scratch.mkdir(parents=True, exist_ok=True)
        model = resolve_model(cfg, ctx.inputs.get("model"), scratch)
        fmt = resolve_prompt_format(cfg)
        writer = open_shard(scratch, fsync=bool(cfg.generate.fsync))
        ctx.log.info("evaluate %s on %s: %d problems x %d samples (%s, %s format), model %s", bench.name,
                     ctx.task.id, len(mine), n, "tir" if p["tir"] else "no tir", fmt, model.path)
        stats = {"resumed": writer.resumed}
        try:
            if not writer.done:
                settings = LoopSettings(
                    max_tokens=int(ev.max_tokens), temperature=float(ev.temperature), top_p=float(ev.top_p),
                    max_calls=int(cfg.tir.max_calls), output_chars=int(cfg.tir.output_chars),
                    call_timeout_s=float(cfg.tir.call_timeout_s), tool_workers=int(cfg.generate.tool_workers),
                    count_teacher_tokens=False,
                    # a student saw tool outputs in openai-harmony's header in training (nmframe.sft.format)
                    tool_header="harmony" if model.kind == "student" else "paper")

                def progress(done, total):
                    ctx.log.info("evaluate %s: %d/%d samples", ctx.task.id, done, total)

                with contextlib.ExitStack() as stack:
                    if fmt == "chat":
                        from nmframe.evaluation.chat_sampling import load_model_tokenizer, sample_problems_chat

                        tokenizer = load_model_tokenizer(model.path)
                    backend = stack.enter_context(open_model_backend(cfg, model, log_dir=scratch))
                    sandbox, isolation = None, {"mode": "unused"}  # no model-written code runs
                    if p["tir"] and mine:
                        from nmframe.sandbox.policy import open_for_untrusted_code

                        sandbox, isolation = open_for_untrusted_code(
                            bool(cfg.sandbox.allow_unisolated), ctx.log, cfg.sandbox.cgroup_parent,
                            max_sessions=cfg.generate.sandbox_sessions, memory_mb=cfg.generate.sandbox_memory_mb,
                            output_chars=int(cfg.tir.output_chars), default_timeout=float(cfg.tir.call_timeout_s))
                        stack.enter_context(sandbox)
                    ctx.log_metrics({"sandbox_isolation": isolation})
                    if fmt == "chat":
                        stats.update(sample_problems_chat(
                            mine, mode=p["mode"], n=n, backend=backend, settings=settings, tokenizer=tokenizer,
                            writer=writer, batch_size=int(ev.batch_size), seed_base=int(ev.seed), progress=progress))
                    else:
                        stats.update(sample_problems(
                            mine, mode=p["mode"], tir=p["tir"], n=n, backend=backend, settings=settings,
                            writer=writer, batch_size=int(ev.batch_size), seed_base=int(ev.seed), sandbox=sandbox,
                            progress=progress))
        finally:
            writer.close()
        _link_or_copy(writer.final, ctx.out_dir / "samples.jsonl")
        samples = [rec for _, rec in read_records(ctx.out_dir / "samples.jsonl")]
        if len(samples) != len(mine) * n:
            raise RuntimeError(f"{writer.final} has {len(samples)} records for {len(mine)} problems x {n} samples")
        samples.sort(key=lambda r: (str(r["problem_id"]), int(r["sample_index"])))
        if bench.grader == "llm-judge" and judge is None:
            judge = load_backend(ev.judge, cfg)
        records = bench.grade(samples, by_id, cfg, log=ctx.log, judge=judge)
        with open(ctx.out_dir / "records.jsonl", "w", encoding="utf-8") as f:
            for r in records:
                f.write(json.dumps({**r, "benchmark": bench.name, "mode": p["mode"], "tir": p["tir"]},
                                   ensure_ascii=False) + "\n")
        ks = bench.ks(n)
        metrics = (score(records, ks=ks, alpha=float(ev.alpha), **maj_convention(cfg)) if records
                   else {"overall": {}, "by_subset": {}})
        ctx.write_json("scores.json", {
            "benchmark": bench.name, "benchmark_version": bench.VERSION, "grader": bench.grader,
            "mode": p["mode"], "tir": p["tir"], "shard": p["shard"], "shards": int(ev.shards),
            "samples_per_problem": n, "ks": list(ks), "problems": len(mine),
            "model": {"kind": model.kind, "path": model.path, "tiny": model.tiny, "label": model.label},
            "prompt_format": fmt,
            "sampling": {"temperature": float(ev.temperature), "top_p": float(ev.top_p),
                         "max_tokens": int(ev.max_tokens)},
            "load": load_report.to_dict(), "generation": stats, **metrics})
        o = metrics.get("overall", {})
        ctx.log_metrics({k: v for k, v in {"pass@1": o.get("pass@1"), f"maj@{ks[-1]}": o.get(f"maj@{ks[-1]}"),
                                           "no_answer_rate": o.get("no_answer_rate"),
                                           "ungraded_samples": o.get("ungraded_samples"),
                                           "samples": o.get("samples")}.items() if v is not None})
        ctx.log.info("evaluate %s: pass@1 %s, maj@%d %s over %d problems", ctx.task.id, o.get("pass@1"), ks[-1],
                     o.get(f"maj@{ks[-1]}"), len(mine))
