"""GPU proof: what the CPU suite cannot show, measured on one H100/H200 in under 8 minutes.

Parts (each timed; one table at the end; exit status 1 if any part fails):

1. ``te dense`` / ``te moe``: the megatron trainer (:class:`nmframe.training.megatron_trainer.MegatronTrainer`)
   with Transformer Engine on a small dense and a small MoE student (random weights, built here),
   packed THD bins of up to 4096 tokens, in bf16 and in FP8 (``trainer.fp8_recipe``, delayed
   scaling by default). Reported: median step time after warm-up, last loss, FP8/bf16 speed-up.
   Fails on a missing TE path, a non-finite loss, or FP8 losses more than ``--fp8-loss-tol``
   (relative, mean of the last 3 steps) away from bf16's on the same bins.
2. ``vllm overhead``: the project's vLLM backend (:class:`nmframe.generation.vllm_backend.VllmBackend`)
   against raw ``vllm.LLM.generate`` on the same engine, prompts and sampling parameters:
   completion tokens/s of each (best of ``--repeats``), overhead = 1 - backend/raw. Fails at
   ``--max-overhead`` (default 5 %) or more.
3. ``quickstart gpu``: ``nmframe run experiment=quickstart`` up to ``train_stage`` with the
   teacher on vLLM and the student on the megatron trainer (TE, bf16), one GPU. Fails unless every
   stage trained with TE to finite losses and the teacher wrote samples.

Nothing is downloaded: the students are Megatron ``GPTModel`` s with random weights, the teacher is a
random-weight Qwen3 written locally with the project's tiny tokenizer.

``--dry-run`` (CPU) does everything before the GPU work: writes the SFT data and packed schedules,
composes every config and checks its parallel layout, builds the step-0 THD batches and the
Megatron ``TransformerConfig`` s, writes the teacher model, plans the quickstart DAG, and prints the
exact command of each GPU part it skipped.

Run: bash bench/gpu_proof.sh [--dry-run] [--only te,vllm,quickstart] [--workdir DIR]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

warnings.filterwarnings("ignore")   # megatron's "TE/Apex not installed" on CPU drowns the table

REPO = Path(__file__).resolve().parents[1]
BUDGET_S = 470          # the whole proof, start-up included, must fit 8 minutes
PART_TIMEOUT_S = {"te": 100, "vllm": 120, "quickstart": 150}

# Students: big enough that FP8 GEMMs matter (hidden 1024, 16 heads of 64), small enough that four
# runs of 10 steps fit the budget. Overrides on conf/model/tiny.yaml (its tokenizer, larger dims).
STUDENTS = {
    "dense": ["model.num_layers=8", "model.hidden_size=1024", "model.ffn_hidden_size=3072",
              "model.num_attention_heads=16", "model.num_kv_heads=4", "model.head_dim=64",
              "model.vocab_size=32768"],
    "moe": ["model.arch=moe", "model.num_layers=4", "model.hidden_size=1024", "model.ffn_hidden_size=3072",
            "model.num_attention_heads=16", "model.num_kv_heads=4", "model.head_dim=64", "model.vocab_size=32768",
            "model.num_experts=8", "model.moe_router_topk=2", "model.moe_ffn_hidden_size=768"],
}
PRECISIONS = ("bf16", "fp8")
CAPACITY, SAMPLES, GBS, STEPS = 4096, 80, 8, 10   # 10 optimizer steps of 8 samples, bins of 4096 tokens
WARMUP_STEPS = 2

# Teacher for vLLM: head_dim 64 (the attention kernels' smallest common size), random weights.
TEACHER = SimpleNamespace(arch="dense", num_layers=4, hidden_size=512, ffn_hidden_size=1536, num_attention_heads=8,
                          num_kv_heads=4, head_dim=64, vocab_size=512, max_position_embeddings=4096,
                          num_experts=None, moe_router_topk=None, moe_ffn_hidden_size=None)
PROMPTS, MAX_TOKENS = 256, 256


@dataclass
class Row:
    part: str
    status: str = "ok"          # ok | FAIL | skipped
    seconds: float = 0.0
    result: str = ""
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# preparation (CPU): data, packed schedules, configs, teacher model
# ---------------------------------------------------------------------------------------------

def student_overrides(model: str, precision: str, recipe: str) -> list[str]:
    return ["trainer=megatron", "trainer.nodes=1", "trainer.gpus_per_node=1", f"trainer.global_batch_size={GBS}",
            f"trainer.precision={precision}", f"trainer.fp8_recipe={recipe}", "trainer.lr=3e-4",
            "trainer.warmup_steps=0", *STUDENTS[model]]


def prepare_sft(work: Path, vocab: int) -> tuple[Path, Path]:
    """SAMPLES random samples of 256-4095 tokens (heavy-tailed like traces), packed into bins of
    CAPACITY tokens in global batches of GBS samples."""
    import numpy as np

    from nmframe.sft.stages import build_schedule
    from nmframe.sft.store import SftData, SftWriter

    sft, pack = work / "sft", work / "pack"
    if not (sft / "done").exists():
        rng = np.random.default_rng(0)
        w = SftWriter(sft)
        for i in range(SAMPLES):
            k = int(np.exp(rng.uniform(np.log(256), np.log(CAPACITY - 1))))
            mask = np.r_[np.zeros(k // 4), np.ones(k - k // 4)]
            w.append(rng.integers(16, vocab, k), mask, {"problem_id": str(i), "mode": "high", "tir": False, "seed": 0})
        w.close()
        (sft / "done").write_text("")
    data = SftData(sft)
    if not pack.exists():
        pack.mkdir()
        build_schedule(np.arange(len(data)), data.lengths, CAPACITY, global_batch=GBS, epochs=1.0,
                       seed=0).save(pack)
    return sft, pack


def stage_data(sft: Path, pack: Path, scratch: Path):
    from nmframe.training.base import StageData

    return StageData("proof", 0, sft, pack, capacity=CAPACITY, pad_multiple=128, max_steps=STEPS,
                     scratch_dir=scratch)


def prepare_te(work: Path, model: str, recipe: str) -> tuple[dict, list[str]]:
    """Data, schedule and configs of one student; the notes say what was checked on this machine."""
    from nmframe.config import compose
    from nmframe.config.checks import check_parallel_layout
    from nmframe.sft.stages import Schedule
    from nmframe.sft.store import SftData
    from nmframe.training.batches import step_batches

    cfgs = {p: compose(student_overrides(model, p, recipe)) for p in PRECISIONS}
    cfg = cfgs["bf16"]
    layout = check_parallel_layout(cfg, str(cfg.buckets.stages[0].name))
    sft, pack = prepare_sft(work / "data", int(cfg.model.vocab_size))
    schedule = Schedule.load(pack)
    assert schedule.num_steps >= STEPS, f"{schedule.num_steps} steps in the schedule, {STEPS} wanted"
    b0 = step_batches(SftData(sft), schedule, 0, stage_data(sft, pack, work / "scratch"))
    thd = b0.per_rank[0]
    notes = [f"layout tp{layout['tp']} cp{layout['cp']} ep{layout['ep']}, {schedule.num_steps} steps; "
             f"step 0: {len(thd)} THD bins, {b0.samples} samples, {b0.target_tokens} targets, "
             f"cu_seqlens {[len(b.cu_seqlens) - 1 for b in thd]} segments"]
    try:
        from nmframe.training.megatron_trainer import transformer_config

        tc = transformer_config(cfg, layout, on_gpu=False)   # shapes and MoE settings (fp32 on CPU)
        notes.append(f"TransformerConfig: {tc.num_layers} layers, hidden {tc.hidden_size}, "
                     f"experts {tc.num_moe_experts or 0}")
    except ImportError as exc:
        notes.append(f"megatron.core not importable here ({exc}); TransformerConfig not built")
    spec = {"model": model, "sft": str(sft), "pack": str(pack), "layout": layout,
            "overrides": {p: student_overrides(model, p, recipe) for p in PRECISIONS}}
    return spec, notes


def write_teacher(path: Path) -> Path:
    """The vLLM teacher: a random-weight Qwen3 (TEACHER) with the project's tiny tokenizer."""
    import torch

    from nmframe.models.tiny import build_tiny_model, build_tiny_tokenizer

    if (path / "config.json").exists():
        return path
    tok = build_tiny_tokenizer(TEACHER.vocab_size)
    model = build_tiny_model(TEACHER, seed=0, tokenizer=tok).to(torch.bfloat16)
    path.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(path)
    model.save_pretrained(path)
    return path


def prompts() -> list[str]:
    return [f"Problem {i}: find the sum of the first {i + 3} odd numbers and put it in \\boxed{{}}."
            for i in range(PROMPTS)]


def quickstart_overrides(work: Path, teacher: Path) -> list[str]:
    return ["experiment=quickstart", "mode=high", "tir=off",
            "pipeline.steps=[ingest,generate,prepare_sft,bucketize,pack,train_stage]",
            # a random teacher is never right: train on every generated trace, as teacher=tiny does
            "sft.input_step=generate", "sft.require_finished=false",
            "teacher.backend=vllm", f"teacher.model={teacher}", "teacher.gpus_per_node=1",
            "generate.gpu_memory_utilization=0.5", "trainer=megatron", "trainer.nodes=1", "trainer.gpus_per_node=1",
            "trainer.global_batch_size=4", "trainer.precision=bf16", "trainer.max_steps=2",
            "tracking.wandb_mode=disabled", f"paths.outputs={work / 'outputs'}"]


def nmframe_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "nmframe.cli", *args]


def child_cmd(part: str, work: Path, result: Path, repeats: int) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--child", part, "--workdir", str(work),
            "--result", str(result), "--repeats", str(repeats)]


# ---------------------------------------------------------------------------------------------
# GPU work (run in child processes, one per part, so parallel state and memory start clean)
# ---------------------------------------------------------------------------------------------

def child_te(work: Path, spec: dict) -> dict:
    """bf16 then FP8 on the same bins from the same seed, in one process (one NCCL group: the
    trainer re-creates the model-parallel groups and the model for each run)."""
    import gc

    import torch

    from nmframe.config import compose
    from nmframe.training.megatron_trainer import MegatronTrainer, teardown

    out = {}
    try:
        for precision in PRECISIONS:
            cfg = compose(spec["overrides"][precision])
            scratch = work / f"scratch_{precision}"
            r = MegatronTrainer().train_stage(stage_data(Path(spec["sft"]), Path(spec["pack"]), scratch), None,
                                              work / f"ckpt_{precision}", spec["layout"], cfg)
            out[precision] = {"losses": r.losses, "step_times": r.step_times, "tokens": r.tokens,
                              "transformer_engine": r.extra.get("transformer_engine"),
                              "fp8_recipe": r.extra.get("fp8_recipe")}
            gc.collect()
            torch.cuda.empty_cache()
    finally:
        teardown()
    return out


def child_vllm(work: Path, spec: dict, repeats: int) -> dict:
    from nmframe.generation.base import CompletionRequest
    from nmframe.generation.vllm_backend import VllmBackend

    backend = VllmBackend(spec["teacher"], max_model_len=2048, gpu_memory_utilization=0.5)
    texts = prompts()
    reqs = [CompletionRequest(prompt=p, max_tokens=MAX_TOKENS, temperature=1.0, top_p=1.0, seed=i)
            for i, p in enumerate(texts)]
    # the same SamplingParams the backend builds for these requests (see VllmBackend's docstring)
    params = [backend._vllm.SamplingParams(n=1, temperature=1.0, top_p=1.0, max_tokens=MAX_TOKENS, seed=i,
                                           stop=None, skip_special_tokens=False, include_stop_str_in_output=False)
              for i in range(len(texts))]
    backend.llm.generate(texts[:16], params[:16], use_tqdm=False)       # warm-up (graphs, caches)
    backend.complete(reqs[:16])
    raw, ours = [], []
    for _ in range(repeats):                                             # alternate so drift hits both
        t0 = time.perf_counter()
        outs = backend.llm.generate(texts, params, use_tqdm=False)
        raw.append((sum(len(o.outputs[0].token_ids) for o in outs), time.perf_counter() - t0))
        t0 = time.perf_counter()
        res = backend.complete(reqs)
        ours.append((sum(r.completion_tokens for r in res), time.perf_counter() - t0))
        errors = [r.error for r in res if r.error]
        if errors:
            raise RuntimeError(f"backend returned {len(errors)} errors, first: {errors[0]}")
    backend.close()
    return {"raw": raw, "backend": ours}


def child_main(part: str, work: Path, result: Path, repeats: int) -> int:
    spec = json.loads((work / "spec.json").read_text())
    if part.startswith("te_"):
        out = child_te(work / part, spec[part])
    elif part == "vllm":
        out = child_vllm(work, spec["vllm"], repeats)
    else:
        raise SystemExit(f"unknown part {part!r}")
    result.write_text(json.dumps(out))
    return 0


# ---------------------------------------------------------------------------------------------
# checks on what the children measured
# ---------------------------------------------------------------------------------------------

def tail_mean(xs: list[float], k: int = 3) -> float:
    return sum(xs[-k:]) / len(xs[-k:])


def judge_te(out: dict, fp8_loss_tol: float) -> tuple[bool, str]:
    problems, cells = [], []
    med = {}
    for p in PRECISIONS:
        r = out[p]
        if not r["transformer_engine"]:
            problems.append(f"{p}: ran without Transformer Engine")
        if not all(math.isfinite(x) for x in r["losses"]) or len(r["losses"]) != STEPS:
            problems.append(f"{p}: losses {r['losses']}")
            continue
        med[p] = statistics.median(r["step_times"][WARMUP_STEPS:])
        tps = r["tokens"] / sum(r["step_times"]) if sum(r["step_times"]) else 0.0
        cells.append(f"{p} {1000 * med[p]:.0f} ms/step, loss {r['losses'][-1]:.3f}, {tps / 1e3:.0f}k tok/s")
    if not problems:
        rel = abs(tail_mean(out["fp8"]["losses"]) - tail_mean(out["bf16"]["losses"])) / tail_mean(out["bf16"]["losses"])
        cells.append(f"fp8 speed-up {med['bf16'] / med['fp8']:.2f}x, loss gap {100 * rel:.2f}%")
        if rel > fp8_loss_tol:
            problems.append(f"fp8 loss {100 * rel:.2f}% from bf16 (tolerance {100 * fp8_loss_tol:.1f}%)")
    return not problems, "; ".join(cells + problems)


def judge_vllm(out: dict, max_overhead: float) -> tuple[bool, str]:
    raw = max(n / s for n, s in out["raw"])
    ours = max(n / s for n, s in out["backend"])
    overhead = 1.0 - ours / raw
    ok = overhead < max_overhead
    msg = (f"raw LLM.generate {raw:,.0f} tok/s, backend {ours:,.0f} tok/s, overhead {100 * overhead:+.1f}% "
           f"(goal < {100 * max_overhead:.0f}%)")
    return ok, msg


def judge_quickstart(outputs: Path) -> tuple[bool, str]:
    problems = []
    trained = sorted((outputs / "artifacts" / "train_stage").glob("*/losses.json"))
    for f in trained:
        res = json.loads(f.read_text())
        if not res.get("transformer_engine"):
            problems.append(f"{f.parent.name}: trained without Transformer Engine")
        if not res["losses"] or not all(math.isfinite(x) for x in res["losses"]):
            problems.append(f"{f.parent.name}: losses {res['losses']}")
    samples = sum(len(p.read_text().splitlines())
                  for p in (outputs / "artifacts" / "generate").glob("*/samples.jsonl"))
    if not trained:
        problems.append("no train_stage artifact")
    if samples == 0:
        problems.append("the vLLM teacher wrote no samples")
    return not problems, "; ".join([f"{len(trained)} stages trained with TE, {samples} teacher samples", *problems])


# ---------------------------------------------------------------------------------------------
# driver
# ---------------------------------------------------------------------------------------------

def run_child(cmd: list[str], timeout: float, log: Path) -> tuple[int, str]:
    with open(log, "w") as f:
        try:
            proc = subprocess.run(cmd, cwd=REPO, stdout=f, stderr=subprocess.STDOUT, timeout=timeout,
                                  env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                      [str(REPO), os.environ.get("PYTHONPATH", "")])})
        except subprocess.TimeoutExpired:
            return 124, f"timed out after {timeout:.0f} s; log: {log}"
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] or [""]
        return proc.returncode, f"exit {proc.returncode}: {tail[0][:200]}; log: {log}"
    return 0, ""


def print_table(rows: list[Row], dry_run: bool) -> None:
    w = max(len(r.part) for r in rows)
    print(f"\nGPU proof{' (dry run: CPU preparation only)' if dry_run else ''}")
    print(f"{'part':<{w}}  {'status':<7}  {'seconds':>7}  result")
    print(f"{'-' * w}  {'-' * 7}  {'-' * 7}  {'-' * 40}")
    for r in rows:
        print(f"{r.part:<{w}}  {r.status:<7}  {r.seconds:7.1f}  {r.result}")
        for n in r.notes:
            print(f"{'':<{w}}  {'':<7}  {'':>7}    {n}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dry-run", action="store_true", help="CPU preparation only; print the GPU commands it skips")
    ap.add_argument("--only", default="te,vllm,quickstart", help="comma-separated parts: te, vllm, quickstart")
    ap.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: a new temp folder)")
    ap.add_argument("--fp8-recipe", default="delayed", choices=["delayed", "tensorwise", "blockwise", "mxfp8"])
    ap.add_argument("--fp8-loss-tol", type=float, default=0.02, help="relative, mean of the last 3 losses")
    ap.add_argument("--max-overhead", type=float, default=0.05, help="vLLM backend vs raw LLM.generate")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child_main(args.child, args.workdir, args.result, args.repeats)

    only = {p.strip() for p in args.only.split(",") if p.strip()}
    unknown = only - set(PART_TIMEOUT_S)
    if unknown:
        print(f"gpu_proof: --only {','.join(sorted(unknown))}: unknown part (allowed: te, vllm, quickstart)",
              file=sys.stderr)
        return 2
    if not args.dry_run:
        import torch

        if not torch.cuda.is_available():
            print("gpu_proof: no CUDA GPU here; run with --dry-run for the CPU part", file=sys.stderr)
            return 2
    work = (args.workdir or Path(tempfile.mkdtemp(prefix="nmframe-gpu-proof-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    rows: list[Row] = []
    spec: dict = {}

    def left() -> float:
        return BUDGET_S - (time.monotonic() - start)

    # 1. preparation of every selected part (CPU)
    plan: list[tuple[Row, str, list[str] | None]] = []   # (row, kind, command)
    if "te" in only:
        for model in STUDENTS:
            row, part = Row(f"te {model} bf16 vs fp8"), f"te_{model}"
            t0 = time.perf_counter()
            try:
                spec[part], row.notes = prepare_te(work / part, model, args.fp8_recipe)
                plan.append((row, part, child_cmd(part, work, work / f"{part}.json", args.repeats)))
            except Exception as exc:  # noqa: BLE001 - a part fails, the proof goes on
                row.status, row.result = "FAIL", f"preparation: {type(exc).__name__}: {exc}"
            row.seconds = time.perf_counter() - t0
            rows.append(row)
    teacher = None
    if only & {"vllm", "quickstart"}:
        t0 = time.perf_counter()
        try:
            teacher = write_teacher(work / "teacher")
        except Exception as exc:  # noqa: BLE001
            rows.append(Row("teacher model", "FAIL", time.perf_counter() - t0, f"{type(exc).__name__}: {exc}"))
    if "vllm" in only:
        row = Row("vllm overhead")
        if teacher is None:
            row.status, row.result = "FAIL", "no teacher model"
        else:
            spec["vllm"] = {"teacher": str(teacher)}
            row.notes = [f"teacher {teacher} (Qwen3, {TEACHER.num_layers} layers, hidden {TEACHER.hidden_size}); "
                         f"{PROMPTS} prompts x {MAX_TOKENS} tokens, best of {args.repeats}"]
            plan.append((row, "vllm", child_cmd("vllm", work, work / "vllm.json", args.repeats)))
        rows.append(row)
    if "quickstart" in only:
        row = Row("quickstart gpu")
        t0 = time.perf_counter()
        if teacher is None:
            row.status, row.result = "FAIL", "no teacher model"
        else:
            over = quickstart_overrides(work / "quickstart", teacher)
            code, msg = run_child(nmframe_cmd("plan", *over), max(left(), 30), work / "quickstart-plan.log")
            if code != 0:
                row.status, row.result = "FAIL", f"nmframe plan: {msg}"
            else:
                tasks = [ln for ln in (work / "quickstart-plan.log").read_text().splitlines() if "tasks:" in ln]
                row.notes = [f"plan: {tasks[-1].split(';')[0].strip() if tasks else '?'}"]
                plan.append((row, "quickstart", nmframe_cmd("run", *over)))
        row.seconds = time.perf_counter() - t0
        rows.append(row)
    (work / "spec.json").write_text(json.dumps(spec, indent=1))

    # 2. the GPU work, or in a dry run the commands it would run
    for row, kind, cmd in plan:
        if args.dry_run:
            row.status, row.result = "skipped", "dry run; would run: " + shlex.join(cmd)
            continue
        timeout = min(PART_TIMEOUT_S[kind.split("_")[0]], left())
        if timeout < 20:
            row.status, row.result = "FAIL", "no time left in the 8-minute budget"
            continue
        t0 = time.perf_counter()
        code, msg = run_child(cmd, timeout, work / f"{kind}.log")
        row.seconds += time.perf_counter() - t0
        if code != 0:
            row.status, row.result = "FAIL", msg
            continue
        try:
            if kind.startswith("te_"):
                ok, row.result = judge_te(json.loads((work / f"{kind}.json").read_text()), args.fp8_loss_tol)
            elif kind == "vllm":
                ok, row.result = judge_vllm(json.loads((work / "vllm.json").read_text()), args.max_overhead)
            else:
                ok, row.result = judge_quickstart(work / "quickstart" / "outputs")
        except Exception as exc:  # noqa: BLE001
            ok, row.result = False, f"reading the result: {type(exc).__name__}: {exc}"
        row.status = "ok" if ok else "FAIL"

    print_table(rows, args.dry_run)
    failed = [r.part for r in rows if r.status == "FAIL"]
    skipped = [r.part for r in rows if r.status == "skipped"]
    total = time.monotonic() - start
    print(f"\n{len(rows) - len(failed) - len(skipped)} ok, {len(failed)} failed, {len(skipped)} skipped "
          f"in {total:.0f} s; work dir {work}")
    if failed:
        print("FAILED: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
