"""The ``torch`` trainer: a transformers Qwen3 student trained on packed bins, on CPU.

Why: the whole schedule (stages, packed batches, checkpoints passed stage to stage, resume after
a kill) must run and be tested without GPUs. The model is the tiny Qwen3 of
:func:`nmframe.models.tiny.build_tiny_model` (or ``model.hf_id`` for a real student); a packed
bin runs in one forward pass with a block-diagonal causal mask and positions restarting per
sample (:func:`nmframe.packing.hf_packed.packed_loss`), so it computes exactly the unpacked loss.

Optimisation follows ``trainer.*``: AdamW (lr, betas, eps, weight decay), the LR of
:mod:`nmframe.training.optim` (``lr_schedule``, ``warmup_steps``; constant without warmup in the
recipe), gradient clipping only when ``grad_clip`` is set. The loss of a step is the token-mean over all bins of the global batch.

Checkpoints (a directory): ``model/`` (``save_pretrained``) and ``trainer_state.pt`` (optimizer
state, global step, stage step, RNG states, the stage's losses so far). The next stage loads the
model and the optimizer state and continues the global step. Every ``sft.checkpoint_every``
steps a mid-stage checkpoint goes to the stage's scratch directory; a restarted task resumes
from it and produces the same losses as an uninterrupted run.
"""
from __future__ import annotations

import os
import random
import shutil
import time
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from omegaconf import DictConfig

from nmframe.packing.hf_packed import packed_loss
from nmframe.sft.stages import Schedule
from nmframe.sft.store import SftData
from nmframe.training.base import StageData, StageResult, Trainer
from nmframe.training.batches import step_batches
from nmframe.training.optim import LrPlan, set_lr

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def _rng_state() -> dict:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


def save_checkpoint(path: Path, model, optimizer, state: dict) -> None:
    """Write atomically: a crash leaves either the old checkpoint or the new one, never half."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp / "model", safe_serialization=True)
    torch.save({**state, "optimizer": optimizer.state_dict(), "rng": _rng_state()}, tmp / "trainer_state.pt")
    if path.exists():
        old = path.with_name(path.name + ".old")
        if old.exists():
            shutil.rmtree(old)
        os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old)
    else:
        os.replace(tmp, path)


def load_state(path: Path) -> dict:
    return torch.load(Path(path) / "trainer_state.pt", map_location="cpu", weights_only=False)


def build_model(cfg: DictConfig, init_checkpoint: Optional[Path]):
    import transformers

    dtype = DTYPES.get(str(cfg.trainer.precision))
    if dtype is None:
        raise ValueError(f"trainer.precision={cfg.trainer.precision}: the torch trainer runs fp32 or bf16")
    if init_checkpoint is not None:
        model = transformers.AutoModelForCausalLM.from_pretrained(Path(init_checkpoint) / "model", dtype=dtype)
    elif cfg.model.tiny:
        from nmframe.models.tiny import build_tiny_model, load_tokenizer

        model = build_tiny_model(cfg.model, seed=int(cfg.trainer.seed),
                                 tokenizer=load_tokenizer(cfg.model.tokenizer, cfg.model.vocab_size)).to(dtype)
    else:
        model = transformers.AutoModelForCausalLM.from_pretrained(cfg.model.hf_id or cfg.model.tokenizer, dtype=dtype)
    model.config.use_cache = False
    return model


def build_optimizer(model, tr: DictConfig) -> torch.optim.Optimizer:
    return torch.optim.AdamW(model.parameters(), lr=float(tr.lr), betas=(float(tr.adam_beta1), float(tr.adam_beta2)),
                             eps=float(tr.adam_eps), weight_decay=float(tr.weight_decay))


def train_step(model, optimizer, batches, tr: DictConfig, global_step: int,
               lr_plan: Optional[LrPlan] = None) -> float:
    """One optimizer step over every micro-batch of every rank; returns the token-mean loss."""
    n = max(batches.target_tokens, 1)
    total = 0.0
    for rank in batches.per_rank:
        for b in rank:
            if b.num_loss_tokens == 0:
                continue
            loss_sum, _ = packed_loss(model, b, mode="mask")
            (loss_sum / n).backward()
            total += float(loss_sum.detach())
    if tr.grad_clip is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), float(tr.grad_clip))
    set_lr(optimizer.param_groups, (lr_plan or LrPlan.from_trainer(tr)).at(global_step))
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return total / n


class TorchTrainer(Trainer):
    backend = "torch"

    def train_stage(self, stage_data: StageData, init_checkpoint: Optional[Path], out_checkpoint: Path,
                    layout: dict, cfg: DictConfig) -> StageResult:
        sd, tr = stage_data, cfg.trainer
        torch.manual_seed(int(tr.seed) + sd.index)
        data = SftData(sd.sft_dir)
        schedule = Schedule.load(sd.pack_dir)
        total = schedule.num_steps if sd.max_steps is None else min(schedule.num_steps, int(sd.max_steps))
        scratch = Path(sd.scratch_dir) / "checkpoint" if sd.scratch_dir else None
        resume = scratch if scratch is not None and (scratch / "trainer_state.pt").exists() else None
        model = build_model(cfg, resume or init_checkpoint)
        optimizer = build_optimizer(model, tr)
        lr_plan = LrPlan.from_trainer(tr)
        result = StageResult()
        global_step, start = 0, 0
        src = resume or init_checkpoint
        if src is not None:
            state = load_state(src)
            optimizer.load_state_dict(state["optimizer"])
            global_step = int(state["global_step"])
            if resume is not None:
                start = int(state["stage_step"])
                result.losses, result.step_times = list(state["losses"]), list(state["step_times"])
                result.tokens = int(state["tokens"])
                result.resumed_from_step = start
                _set_rng_state(state["rng"])
        model.train()
        for step in range(start, total):
            t0 = time.perf_counter()
            batches = step_batches(data, schedule, step, sd, dp=int(layout.get("dp", 1)))
            lr = lr_plan.at(global_step)
            loss = train_step(model, optimizer, batches, tr, global_step, lr_plan)
            dt = time.perf_counter() - t0
            global_step += 1
            result.losses.append(loss)
            result.step_times.append(dt)
            result.tokens += batches.target_tokens
            if sd.on_step is not None:
                sd.on_step({"step": step, "global_step": global_step, "loss": loss, "lr": lr, "step_time_s": dt,
                            "target_tokens": batches.target_tokens, "bins": sum(len(r) for r in batches.per_rank),
                            "samples": batches.samples})
            done = step + 1
            if scratch is not None and sd.checkpoint_every and done % sd.checkpoint_every == 0 and done < total:
                save_checkpoint(scratch, model, optimizer, self._state(global_step, done, result))
        result.steps = len(result.losses)
        save_checkpoint(Path(out_checkpoint), model, optimizer, self._state(global_step, total, result))
        if scratch is not None and scratch.exists():
            shutil.rmtree(scratch)
        result.extra["global_step"] = global_step
        return result

    @staticmethod
    def _state(global_step: int, stage_step: int, result: StageResult) -> dict:
        return {"global_step": global_step, "stage_step": stage_step, "losses": result.losses,
                "step_times": result.step_times, "tokens": result.tokens}
