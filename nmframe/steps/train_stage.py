"""train_stage: one task per bucket stage, each starting from the previous stage's checkpoint.

Why a step per stage: the stages run in sequence with different parallel layouts (and on a
cluster, different jobs), the checkpoint is the only thing passed between them, and a finished
stage is cached: changing the last stage's settings retrains only the last stage.

Inputs: the stage's ``pack`` task, the ``prepare_sft`` arrays and (after the first stage) the
previous ``train_stage`` task. Output: ``checkpoint/`` (torch: ``model/`` + ``trainer_state.pt``;
megatron: a ``megatron.core.dist_checkpointing`` directory, plus after the final stage, when
``sft.export_hf``, ``checkpoint/hf/``: the Hugging Face export that evaluation loads, see
:mod:`nmframe.export`), ``losses.json`` (loss and seconds
per step, target tokens, steps), ``stage.json`` (layout, derived DP / micro / global batch /
grad accumulation, packing settings, cost-model estimate).

The megatron backend does not train in this process: :meth:`TrainStage.run` launches
``torchrun`` (one per node, under ``srun`` on a multi-node Slurm allocation) on the module
``nmframe.training.megatron_entry``. ``sft.export_hf`` is not part of the cache key: the export is
derived from the checkpoint, and evaluation converts a final checkpoint that lacks it.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from omegaconf import OmegaConf

from nmframe.config.stage_plan import STAGE_PLAN_READS, build_stage_plan, stage_pack_settings
from nmframe.costmodel import config_constants, estimate_stage, model_shape
from nmframe.engine import Resources, Step, StepContext, TaskSpec, register_step
from nmframe.engine.dag import PREVIOUS_TASK
from nmframe.engine.step import scratch_dir as engine_scratch_dir
from nmframe.engine.step import select
from nmframe.training.base import StageData, StageResult

TRAINER_KEYS = ("backend", "lr", "lr_schedule", "warmup_steps", "min_lr", "lr_decay_steps", "weight_decay",
                "adam_beta1", "adam_beta2", "adam_eps", "grad_clip", "global_batch_size", "epochs", "max_steps", "precision", "fp8_recipe",
                "nodes", "gpus_per_node", "seed")


def scratch_dir(cfg, key: str) -> Path:
    return engine_scratch_dir(cfg, "train_stage", key)


def stage_data(cfg, params: dict, inputs: dict[str, Path], key: str) -> StageData:
    s = stage_pack_settings(cfg, build_stage_plan(cfg), params["stage"])
    from nmframe.models.tiny import load_tokenizer

    pad = load_tokenizer(str(cfg.model.tokenizer), int(cfg.model.vocab_size)).pad_token_id
    return StageData(name=s["stage"], index=s["index"], sft_dir=Path(inputs["prepare_sft"]),
                     pack_dir=Path(inputs["pack"]), capacity=s["capacity"], pad_multiple=s["pad_multiple"],
                     sample_multiple=s["sample_multiple"], pad_token_id=int(pad if pad is not None else 0),
                     max_steps=cfg.trainer.max_steps, scratch_dir=scratch_dir(cfg, key),
                     checkpoint_every=int(cfg.sft.checkpoint_every))


def node_address(node: str) -> str:
    """The address Slurm reaches ``node`` at (its ``NodeAddr``): the rendezvous endpoint must be
    reachable from every node, and a node name need not resolve (several slurmd on one host)."""
    out = subprocess.run(["scontrol", "show", "node", node, "-o"], capture_output=True, text=True)
    match = re.search(r"\bNodeAddr=(\S+)", out.stdout) if out.returncode == 0 else None
    return match.group(1) if match else node


def torchrun_command(cfg, spec_path: Path, env: dict | None = None) -> list[str]:
    """``torchrun`` for this allocation: standalone on one node; on a multi-node Slurm job one
    torchrun per node (``srun --ntasks-per-node=1``) meeting at the first node (c10d rendezvous)."""
    env = os.environ if env is None else env
    nodes = int(env.get("SLURM_JOB_NUM_NODES") or env.get("SLURM_NNODES") or cfg.trainer.nodes)
    gpus = int(cfg.trainer.gpus_per_node) or 1
    entry = ["-m", "nmframe.training.megatron_entry", "--spec", str(spec_path)]
    if nodes <= 1:
        return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1",
                f"--nproc-per-node={gpus}", *entry]
    head = env.get("NMFRAME_MASTER_ADDR")
    if not head:
        out = subprocess.run(["scontrol", "show", "hostnames", env["SLURM_JOB_NODELIST"]], capture_output=True,
                             text=True, check=True)
        head = node_address(out.stdout.split()[0])
    port = env.get("NMFRAME_MASTER_PORT", "29500")
    return ["srun", f"--nodes={nodes}", "--ntasks-per-node=1", "--kill-on-bad-exit=1",
            sys.executable, "-m", "torch.distributed.run", f"--nnodes={nodes}", f"--nproc-per-node={gpus}",
            "--rdzv-backend=c10d", f"--rdzv-endpoint={head}:{port}", f"--rdzv-id={env.get('SLURM_JOB_ID', 'nmframe')}",
            *entry]


@register_step
class TrainStage(Step):
    name = "train_stage"
    VERSION = "1"
    description = "train one bucket stage (packed batches, its parallel layout) from the previous stage's checkpoint"
    inputs = ("pack", "prepare_sft")
    slice_paths = (*(f"trainer.{k}" for k in TRAINER_KEYS), "model")
    extra_reads = STAGE_PLAN_READS  # the stage list (fan-out) and each stage's layout

    def tasks(self, cfg, dag):
        sft = dag.one("prepare_sft")
        specs = []
        for s in build_stage_plan(cfg):
            inputs = {"pack": dag.one("pack", stage=s.name), "prepare_sft": sft}
            if s.index > 0:
                inputs["previous"] = PREVIOUS_TASK  # the stage before's train_stage task (a chain)
            specs.append(TaskSpec(params={"stage": s.name, "index": s.index}, inputs=inputs))
        return specs

    def config_slice(self, cfg, params):
        # (entries named trainer.trainer.<k>: renaming them would change every existing train_stage key)
        out = {f"trainer.{k}": v for k, v in select(cfg, *(f"trainer.{k}" for k in TRAINER_KEYS)).items()}
        out["model"] = select(cfg, "model")["model"]
        out["layout"] = build_stage_plan(cfg).by_name(params["stage"]).layout.to_dict()
        return out

    def resources(self, cfg, params):
        return Resources(cpus=max(2, 4 * int(cfg.trainer.gpus_per_node)), gpus=int(cfg.trainer.gpus_per_node),
                         nodes=int(cfg.trainer.nodes), time_min=int(cfg.trainer.time_min_per_stage))

    def estimate(self, cfg, params, lengths=None) -> dict:
        """Predicted step time and GPU-hours of this stage (see :mod:`nmframe.costmodel.plan`)."""
        return estimate_stage(build_stage_plan(cfg), model_shape(cfg.model), params["stage"], lengths,
                              constants=config_constants(cfg))

    def run(self, ctx: StepContext) -> None:
        cfg, params = ctx.cfg, ctx.params
        plan = build_stage_plan(cfg)
        layout = plan.by_name(params["stage"]).layout.to_dict()
        sd = stage_data(cfg, params, ctx.inputs, ctx.task.key)
        sd.scratch_dir.mkdir(parents=True, exist_ok=True)
        init = ctx.inputs["previous"] / "checkpoint" if "previous" in ctx.inputs else None
        out_ckpt = ctx.out_dir / "checkpoint"
        backend = str(cfg.trainer.backend)

        def on_step(m: dict) -> None:
            ctx.log_metrics({"loss": m["loss"], "step": m["step"], "step_time_s": m["step_time_s"]})
            ctx.log.info("stage %s step %d: loss %.4f (%d target tokens, %d bins, %.2fs)", sd.name, m["step"],
                         m["loss"], m["target_tokens"], m["bins"], m["step_time_s"])

        if backend == "torch":
            from nmframe.training.torch_trainer import TorchTrainer

            sd.on_step = on_step
            result = TorchTrainer().train_stage(sd, init, out_ckpt, layout, cfg)
        elif backend == "megatron":
            result = self._launch_megatron(ctx, sd, init, out_ckpt, layout)
            if bool(cfg.sft.export_hf) and plan.is_final(sd.name):
                from nmframe.export import export_hf

                summary = export_hf(out_ckpt, out_ckpt / "hf", cfg.model, source="..", log=ctx.log)
                ctx.log.info("exported %s to %s (%s, %s, %d bytes)", out_ckpt, out_ckpt / "hf",
                             summary["architecture"], summary["dtype"], summary["bytes"])
        else:
            raise ValueError(f"trainer.backend={backend!r}: unknown backend (allowed: torch, megatron)")

        ctx.write_json("losses.json", result.to_dict())
        ctx.write_json("stage.json", {"stage": sd.name, "index": sd.index, "layout": layout,
                                      "packing": stage_pack_settings(cfg, plan, sd.name), "init_checkpoint": str(init) if init else None,
                                      "backend": backend})
        summary = {"steps": result.steps, "target_tokens": result.tokens,
                   "final_loss": result.losses[-1] if result.losses else None,
                   "first_loss": result.losses[0] if result.losses else None,
                   "mean_step_time_s": sum(result.step_times) / len(result.step_times) if result.step_times else None,
                   "resumed_from_step": result.resumed_from_step}
        ctx.log_metrics({k: v for k, v in summary.items() if v is not None})
        ctx.log.info("stage %s: %d steps, loss %s -> %s", sd.name, result.steps, summary["first_loss"],
                     summary["final_loss"])

    def _launch_megatron(self, ctx, sd: StageData, init, out_ckpt: Path, layout: dict) -> StageResult:
        spec = sd.scratch_dir / "spec.json"
        spec.write_text(json.dumps({
            "stage": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(sd).items() if k != "on_step"},
            "init_checkpoint": str(init) if init else None, "out_checkpoint": str(out_ckpt), "layout": layout,
            "cfg": OmegaConf.to_container(ctx.cfg, resolve=True),
        }, indent=2, default=str))
        cmd = torchrun_command(ctx.cfg, spec)
        ctx.log.info("launching: %s", shlex.join(cmd))
        proc = subprocess.run(cmd, cwd=os.getcwd())
        if proc.returncode != 0:
            raise RuntimeError(f"megatron training of stage {sd.name} failed (exit {proc.returncode}); "
                               f"see the ranks' output above; spec: {spec}")
        res = json.loads((out_ckpt / "result.json").read_text())
        return StageResult(losses=res["losses"], step_times=res["step_times"], tokens=res["tokens"],
                           steps=res["steps"], resumed_from_step=res.get("resumed_from_step", 0),
                           extra={k: v for k, v in res.items() if k not in
                                  ("losses", "step_times", "tokens", "steps", "resumed_from_step")})
