"""The ``megatron`` trainer: Megatron-Core GPT / MoE models, driven directly (no NeMo).

Why Megatron-Core: the recipe's long stages need tensor, context and expert parallelism with
packed variable-length attention and FP8, and checkpoints that reshard when the next stage uses
another layout. Per stage this module:

* initialises the process groups for the stage's TP / CP / EP / ETP / PP
  (``parallel_state.initialize_model_parallel``) over ``torch.distributed`` (NCCL on GPUs, gloo
  on CPU);
* builds ``GPTModel`` from ``model.*`` (Qwen3: RMSNorm, QK-norm, SwiGLU, GQA, RoPE base 1e6,
  untied embeddings; MoE layers when ``model.arch=moe``) with the Transformer Engine layer spec
  when TE is importable, else the local spec with :class:`CpuVarlenAttention`;
* precision ``trainer.precision``: bf16, fp32, or fp8 (TE, ``trainer.fp8_recipe`` = delayed,
  tensorwise, blockwise or mxfp8; bf16 master weights and non-FP8 ops);
* runs each step's packed bins as THD micro-batches with ``PackedSeqParams(cu_seqlens...)``
  (per-sample attention and RoPE positions restarting per sample; under CP each rank takes its
  load-balanced share of every sample, TE's ``thd_get_partitioned_indices``);
* optimises with Megatron's (distributed) Adam: lr, betas, eps, weight decay, the LR schedule of
  :mod:`nmframe.training.optim` (``trainer.lr_schedule``), no clipping unless
  ``trainer.grad_clip``; per-token loss: sum over the step's targets divided by the step's
  target count on every rank, gradients summed over DP x CP;
* saves ``megatron.core.dist_checkpointing`` checkpoints (model + optimizer + step + RNG) at the
  end of the stage, which the next stage loads into its own layout; every
  ``sft.checkpoint_every`` steps a mid-stage checkpoint goes to the scratch dir for resume.

On CPU (tests, CI, the local two-node cluster) any number of gloo ranks runs the same code with
the local layer spec and the shims of :mod:`nmframe.training.megatron_cpu`; gradients are summed by
:class:`_CpuDDP` and torch AdamW steps them (:class:`_CpuAdam`, its moments sharded into the dist
checkpoint like their parameters, so a stage resumes them under another TP / EP / DP layout).

The step's :meth:`MegatronTrainer.train_stage` is what each torchrun rank runs
(:mod:`nmframe.training.megatron_entry`); it also runs in-process for a single CPU rank (tests).
"""
from __future__ import annotations

import json
import logging
import math
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Optional

import torch
import torch.nn.functional as F
from omegaconf import DictConfig

from nmframe.sft.stages import Schedule
from nmframe.sft.store import SftData
from nmframe.training.base import StageData, StageResult, Trainer
from nmframe.training.batches import step_batches
from nmframe.training.optim import LrPlan, set_lr

log = logging.getLogger("nmframe.megatron")


def te_available() -> bool:
    try:
        import transformer_engine.pytorch  # noqa: F401
    except Exception:  # noqa: BLE001 - any import failure means: no TE
        return False
    return torch.cuda.is_available()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def init_parallel(layout: dict, seed: int) -> bool:
    """Process groups for the layout; returns True on GPU. Single-process when not under torchrun."""
    import torch.distributed as dist
    from megatron.core import parallel_state

    on_gpu = torch.cuda.is_available()
    if not dist.is_initialized():
        if "RANK" not in os.environ:
            os.environ.update({"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1",
                               "MASTER_PORT": str(_free_port())})
        if on_gpu:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group("nccl" if on_gpu else "gloo")
    if not on_gpu:
        from nmframe.training.megatron_cpu import enable_cpu

        enable_cpu()
    if int(layout["pp"]) != 1:
        raise NotImplementedError("pipeline parallelism (PP > 1) is not supported by this trainer; the recipe uses PP=1")
    world = dist.get_world_size()
    if world != int(layout["world"]):
        raise RuntimeError(f"torch.distributed has {world} ranks but the stage layout needs {layout['world']} "
                           "(trainer.nodes x trainer.gpus_per_node)")
    parallel_state.destroy_model_parallel()
    parallel_state.initialize_model_parallel(
        tensor_model_parallel_size=int(layout["tp"]), pipeline_model_parallel_size=int(layout["pp"]),
        context_parallel_size=int(layout["cp"]), expert_model_parallel_size=int(layout["ep"]),
        expert_tensor_parallel_size=int(layout["etp"]))
    if on_gpu:
        from megatron.core.tensor_parallel.random import model_parallel_cuda_manual_seed

        model_parallel_cuda_manual_seed(seed)
    torch.manual_seed(seed)
    return on_gpu


def transformer_config(cfg: DictConfig, layout: dict, on_gpu: bool):
    from megatron.core.transformer.transformer_config import TransformerConfig

    m, tr = cfg.model, cfg.trainer
    precision = str(tr.precision)
    if precision == "fp8" and not (on_gpu and te_available()):
        raise RuntimeError("trainer.precision=fp8 needs a CUDA GPU with Transformer Engine (pip install 'nmframe[gpu]'); use trainer.precision=bf16 elsewhere")
    if precision == "bf16" and not on_gpu:
        precision = "fp32"  # bf16 GEMMs on CPU are slow and not what the GPU path tests
    moe = str(m.arch) == "moe"
    kw = dict(
        num_layers=int(m.num_layers), hidden_size=int(m.hidden_size), num_attention_heads=int(m.num_attention_heads),
        num_query_groups=int(m.num_kv_heads), kv_channels=int(m.head_dim), ffn_hidden_size=int(m.ffn_hidden_size),
        normalization="RMSNorm", layernorm_epsilon=1e-6, gated_linear_unit=True, activation_func=F.silu,
        add_bias_linear=False, qk_layernorm=True, hidden_dropout=0.0, attention_dropout=0.0,
        init_method_std=0.02, tensor_model_parallel_size=int(layout["tp"]),
        context_parallel_size=int(layout["cp"]), expert_model_parallel_size=int(layout["ep"]),
        expert_tensor_parallel_size=int(layout["etp"]), pipeline_model_parallel_size=int(layout["pp"]),
        sequence_parallel=int(layout["tp"]) > 1, calculate_per_token_loss=True,
        use_cpu_initialization=not on_gpu, bf16=precision in ("bf16", "fp8"),
        params_dtype=torch.bfloat16 if precision in ("bf16", "fp8") else torch.float32,
    )
    if precision == "fp8":
        kw.update(fp8="hybrid" if str(tr.fp8_recipe) == "delayed" else "e4m3", fp8_recipe=str(tr.fp8_recipe))
    if moe:
        kw.update(num_moe_experts=int(m.num_experts), moe_router_topk=int(m.moe_router_topk),
                  moe_ffn_hidden_size=int(m.moe_ffn_hidden_size), moe_token_dispatcher_type="alltoall",
                  moe_router_load_balancing_type="none", moe_grouped_gemm=on_gpu and te_available(),
                  moe_router_pre_softmax=False, moe_aux_loss_coeff=0.0)
    return TransformerConfig(**kw)


def layer_spec(config, use_te: bool):
    """TE layer spec on GPUs; elsewhere the local spec with the CPU attention and an RMSNorm that
    allows sequence parallelism (needed for MoE with TP > 1), for every layer and the final norm."""
    from megatron.core.models.gpt import gpt_layer_specs as specs
    from megatron.core.transformer.spec_utils import ModuleSpec
    from megatron.core.transformer.transformer_block import TransformerBlockSubmodules

    if use_te:
        return specs.get_gpt_layer_with_transformer_engine_spec(
            num_experts=config.num_moe_experts, moe_grouped_gemm=config.moe_grouped_gemm, qk_layernorm=True)
    from nmframe.training.megatron_cpu import CpuRMSNorm, CpuVarlenAttention

    spec = specs.get_gpt_layer_local_spec(num_experts=config.num_moe_experts, qk_layernorm=True,
                                          normalization="RMSNorm")
    attn = spec.submodules.self_attention.submodules
    attn.core_attention = ModuleSpec(module=CpuVarlenAttention)
    attn.q_layernorm = attn.k_layernorm = CpuRMSNorm
    spec.submodules.input_layernorm = spec.submodules.pre_mlp_layernorm = CpuRMSNorm
    return TransformerBlockSubmodules(layer_specs=[spec] * config.num_layers, layer_norm=CpuRMSNorm)


def padded_vocab_size(cfg: DictConfig, vocab: int) -> int:
    """Megatron pads the vocabulary to a multiple of 128 x TP. Stages re-tune TP (Qwen3-8B: 2, 2,
    4, 8), so pad once for every stage's TP: each stage's checkpoint then loads in the next."""
    from nmframe.training.layout import check_parallel_layout

    # a library reads the stage list itself rather than import the config layer's stage plan
    tps = [int(check_parallel_layout(cfg, str(s.name))["tp"]) for s in cfg.buckets.stages]
    mult = 128 * math.lcm(*tps)
    return -(-vocab // mult) * mult


def build_model(cfg: DictConfig, layout: dict, on_gpu: bool):
    from megatron.core.models.gpt import GPTModel

    from nmframe.models.tiny import load_tokenizer

    config = transformer_config(cfg, layout, on_gpu)
    use_te = on_gpu and te_available()
    vocab = len(load_tokenizer(str(cfg.model.tokenizer), int(cfg.model.vocab_size)))
    vocab = max(vocab, int(cfg.model.vocab_size))
    vocab = padded_vocab_size(cfg, vocab)
    model = GPTModel(config, layer_spec(config, use_te), vocab_size=vocab,
                     max_sequence_length=int(cfg.model.max_position_embeddings), pre_process=True, post_process=True,
                     share_embeddings_and_output_weights=False, position_embedding_type="rope", rotary_base=1_000_000)
    if on_gpu:
        model = model.cuda()
    return model, config, use_te


class _CpuDDP(torch.nn.Module):
    """Megatron's DDP wrapper, as far as this trainer uses it, for gloo ranks on CPU (Megatron's
    own allocates its gradient buffers on CUDA).

    After the backward passes of a step every gradient is summed over the ranks that hold a
    replica of its parameter, as Megatron's DDP plus ``finalize_model_grads`` do: norm and router
    weights under sequence parallelism (``param.sequence_parallel``; each TP rank saw its own
    tokens) and the QK-norms (each TP rank saw its own heads) over the TP group; then dense
    parameters over DP x CP, expert parameters (``param.allreduce == False``) over the expert
    data-parallel group. The loss is already divided by the step's global target count, so a sum
    is the full gradient.
    """

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def zero_grad_buffer(self):
        self.module.zero_grad(set_to_none=True)

    def finish_grad_sync(self):
        import torch.distributed as dist
        from megatron.core import parallel_state as ps

        tp = ps.get_tensor_model_parallel_group()
        dense = ps.get_data_parallel_group(with_context_parallel=True)
        expert = ps.get_expert_data_parallel_group()
        for name, p in self.module.named_parameters():
            if not p.requires_grad:
                continue
            if p.grad is None:  # e.g. an expert that got no token: still joins every collective
                p.grad = torch.zeros_like(p)
            qk_norm = "q_layernorm" in name or "k_layernorm" in name
            if tp.size() > 1 and (getattr(p, "sequence_parallel", False) or qk_norm):
                dist.all_reduce(p.grad, group=tp)
            group = dense if getattr(p, "allreduce", True) else expert
            if group.size() > 1:
                dist.all_reduce(p.grad, group=group)


class _CpuAdam:
    """torch AdamW with the interface used here, for CPU runs (Megatron's optimizers allocate on
    CUDA). Its moments go into the dist checkpoint sharded like their parameters (as Megatron's
    non-distributed optimizer does), so the next stage loads them under another layout."""

    def __init__(self, params, tr):
        self.opt = torch.optim.AdamW(params, lr=float(tr.lr), betas=(float(tr.adam_beta1), float(tr.adam_beta2)),
                                     eps=float(tr.adam_eps), weight_decay=float(tr.weight_decay))
        self.clip = float(tr.grad_clip) if tr.grad_clip is not None else 0.0
        self.param_groups = self.opt.param_groups

    def zero_grad(self):
        self.opt.zero_grad(set_to_none=True)

    def step(self):
        params = [p for g in self.opt.param_groups for p in g["params"]]
        norm = torch.nn.utils.clip_grad_norm_(params, self.clip) if self.clip > 0 else None
        self.opt.step()
        return True, norm, None

    def _params(self) -> list:
        return [p for g in self.opt.param_groups for p in g["params"]]

    def sharded_state_dict(self, model_sd: dict, is_loading: bool = False) -> dict:
        from megatron.core.dist_checkpointing.optimizer import (get_param_id_to_sharded_param_map,
                                                                optim_state_to_sharding_state)

        # Moments must exist to be saved and loaded into; before the first step they are zeros
        # at step 0, which AdamW treats exactly like no state.
        for p in self._params():
            st = self.opt.state[p]
            if not st:
                st.update(step=torch.zeros(()), exp_avg=torch.zeros_like(p), exp_avg_sq=torch.zeros_like(p))
        sd = self.opt.state_dict()
        steps = {float(st["step"]) for st in sd["state"].values() if "step" in st}
        optim_state_to_sharding_state(sd, get_param_id_to_sharded_param_map(model_sd, self._params()),
                                      exclude_keys=("step",))
        sd["common_step"] = steps.pop() if len(steps) == 1 else 0.0  # every parameter steps together
        return sd

    def load_state_dict(self, sd: dict) -> None:
        sd = dict(sd)
        step = float(sd.pop("common_step", 0.0))
        for st in sd["state"].values():
            st["step"] = torch.tensor(step)
        self.opt.load_state_dict(sd)


def build_optimizer(model, config, cfg: DictConfig, on_gpu: bool):
    from megatron.core.distributed import DistributedDataParallel, DistributedDataParallelConfig
    from megatron.core.optimizer import OptimizerConfig, get_megatron_optimizer

    tr = cfg.trainer
    if not on_gpu:
        import torch.distributed as dist

        if tr.grad_clip is not None and dist.get_world_size() > 1:
            raise ValueError(f"trainer.grad_clip={tr.grad_clip}: clipping on CPU needs the global gradient norm, "
                             "which the CPU path computes for one rank only (allowed: null, as in the paper)")
        return _CpuDDP(model), _CpuAdam(model.parameters(), tr)
    dist_opt = on_gpu
    ddp = DistributedDataParallel(config, DistributedDataParallelConfig(
        grad_reduce_in_fp32=True, use_distributed_optimizer=dist_opt, overlap_grad_reduce=False,
        overlap_param_gather=False), model)
    opt = get_megatron_optimizer(OptimizerConfig(
        optimizer="adam", lr=float(tr.lr), min_lr=float(tr.lr), weight_decay=float(tr.weight_decay),
        adam_beta1=float(tr.adam_beta1), adam_beta2=float(tr.adam_beta2), adam_eps=float(tr.adam_eps),
        bf16=config.bf16, params_dtype=config.params_dtype, use_distributed_optimizer=dist_opt,
        clip_grad=float(tr.grad_clip) if tr.grad_clip is not None else 0.0), [ddp])
    return ddp, opt


def _cp_partition(t: dict, cu: torch.Tensor) -> dict:
    """This CP rank's share of a THD micro-batch (TE's load-balanced partition of every segment)."""
    from megatron.core import parallel_state

    cp = parallel_state.get_context_parallel_world_size()
    if cp == 1:
        return t
    import transformer_engine_torch as tex

    idx = tex.thd_get_partitioned_indices(cu, t["input_ids"].shape[1], cp,
                                          parallel_state.get_context_parallel_rank())
    return {k: (v.index_select(1, idx) if v.dim() == 2 else v) for k, v in t.items()}


def _packed_inputs(batch, device) -> tuple[dict, object, int]:
    """This rank's share of one packed bin (THD), its ``PackedSeqParams`` and the bin's target count."""
    from megatron.core.packed_seq_params import PackedSeqParams

    t = batch.to_torch(device)
    cu = t["cu_seqlens"].to(device=device, dtype=torch.int32)
    labels = t["shift_labels"]
    mask = (labels != -100).to(torch.float32)
    part = _cp_partition({"input_ids": t["input_ids"], "position_ids": t["position_ids"],
                          "labels": labels.clamp(min=0), "mask": mask}, cu)
    max_len = int((cu[1:] - cu[:-1]).max())
    psp = PackedSeqParams(qkv_format="thd", cu_seqlens_q=cu, cu_seqlens_kv=cu, cu_seqlens_q_padded=cu,
                          cu_seqlens_kv_padded=cu, max_seqlen_q=max_len, max_seqlen_kv=max_len)
    return part, psp, int(mask.sum())


def packed_forward(model, batch, device) -> tuple[torch.Tensor, int]:
    """Summed loss and target count of one packed bin through GPTModel in THD format."""
    part, psp, n = _packed_inputs(batch, device)
    per_token = model(part["input_ids"], part["position_ids"], None, labels=part["labels"], packed_seq_params=psp)
    return (per_token.float() * part["mask"]).sum(), n


def checkpoint_logits(cfg: DictConfig, layout: dict, checkpoint: Path, batch) -> torch.Tensor:
    """Full-vocabulary logits ``[1, T, padded vocab]`` of one packed bin (no CP) from a dist
    checkpoint loaded under ``layout``, on every rank: how a reshard is checked, since the same
    checkpoint must give the same logits whatever layout loads it."""
    import torch.distributed as dist
    from megatron.core import parallel_state as ps

    on_gpu = init_parallel(layout, int(cfg.trainer.seed))
    device = torch.device("cuda", torch.cuda.current_device()) if on_gpu else torch.device("cpu")
    model, config, _ = build_model(cfg, layout, on_gpu)
    ddp, opt = build_optimizer(model, config, cfg, on_gpu)
    load_checkpoint(Path(checkpoint), ddp, opt)
    ddp.eval()
    part, psp, _ = _packed_inputs(batch, device)
    with torch.no_grad():
        logits = ddp(part["input_ids"], part["position_ids"], None, packed_seq_params=psp).float()
    tp = ps.get_tensor_model_parallel_group()
    if tp.size() > 1:  # the output layer is vocab-parallel
        shards = [torch.empty_like(logits) for _ in range(tp.size())]
        dist.all_gather(shards, logits.contiguous(), group=tp)
        logits = torch.cat(shards, dim=-1)
    return logits.cpu()


# --------------------------------------------------------------------------------------------
def _sharded(ddp, opt, is_loading: bool = False) -> dict:
    model_sd = ddp.module.sharded_state_dict()
    if isinstance(opt, _CpuAdam):
        return {"model": model_sd, "optimizer": opt.sharded_state_dict(model_sd, is_loading=is_loading)}
    return {"model": model_sd,
            "optimizer": opt.sharded_state_dict(model_sd, is_loading=is_loading,
                                                metadata={"distrib_optim_sharding_type": "fully_sharded_model_space"})}


def save_checkpoint(path: Path, ddp, opt, state: dict) -> None:
    """dist_checkpointing save into ``path`` (atomically renamed by rank 0)."""
    import torch.distributed as dist
    from megatron.core import dist_checkpointing

    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    rank0 = dist.get_rank() == 0
    if rank0:
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
    dist.barrier()
    sd = _sharded(ddp, opt)
    dist_checkpointing.save(sd, str(tmp))
    dist.barrier()
    if rank0:
        (tmp / "trainer_state.json").write_text(json.dumps(state))
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    dist.barrier()


def load_checkpoint(path: Path, ddp, opt) -> dict:
    from megatron.core import dist_checkpointing

    loaded = dist_checkpointing.load(_sharded(ddp, opt, is_loading=True), str(path))
    ddp.module.load_state_dict(loaded["model"])
    opt.load_state_dict(loaded["optimizer"])
    return json.loads((Path(path) / "trainer_state.json").read_text())


def node_name() -> str:
    """This rank's node: Slurm's name for it (several nodes may share one host), else the hostname."""
    return os.environ.get("SLURMD_NODENAME") or socket.gethostname()


def placement(layout: dict) -> dict:
    """Where this stage runs: world size, the layout with its derived DP and expert DP, and the node
    of every rank (gathered from all ranks, so rank 0 can log it)."""
    import torch.distributed as dist
    from megatron.core import parallel_state as ps

    nodes: list = [None] * dist.get_world_size()
    dist.all_gather_object(nodes, node_name())
    return {"world": dist.get_world_size(), "tp": int(layout["tp"]), "cp": int(layout["cp"]),
            "ep": int(layout["ep"]), "etp": int(layout["etp"]), "pp": int(layout["pp"]),
            "dp": ps.get_data_parallel_world_size(), "expert_dp": ps.get_expert_data_parallel_world_size(),
            "sequence_parallel": int(layout["tp"]) > 1, "rank_nodes": nodes, "nodes": sorted(set(nodes))}


def describe_placement(p: dict) -> str:
    return (f"world size {p['world']}: TP{p['tp']} CP{p['cp']} EP{p['ep']} ETP{p['etp']} PP{p['pp']} DP{p['dp']} "
            f"(expert DP {p['expert_dp']}, sequence parallel {'on' if p['sequence_parallel'] else 'off'}) "
            f"on nodes {', '.join(p['nodes'])}")


class MegatronTrainer(Trainer):
    backend = "megatron"

    def train_stage(self, stage_data: StageData, init_checkpoint: Optional[Path], out_checkpoint: Path,
                    layout: dict, cfg: DictConfig) -> StageResult:
        import torch.distributed as dist
        from megatron.core import parallel_state

        sd, tr = stage_data, cfg.trainer
        on_gpu = init_parallel(layout, int(tr.seed) + sd.index)
        where = placement(layout)
        if dist.get_rank() == 0:
            log.info("stage %s: %s", sd.name, describe_placement(where))
        device = torch.device("cuda", torch.cuda.current_device()) if on_gpu else torch.device("cpu")
        model, config, use_te = build_model(cfg, layout, on_gpu)
        ddp, opt = build_optimizer(model, config, cfg, on_gpu)
        lr_plan = LrPlan.from_trainer(tr)
        data = SftData(sd.sft_dir)
        schedule = Schedule.load(sd.pack_dir)
        total = schedule.num_steps if sd.max_steps is None else min(schedule.num_steps, int(sd.max_steps))
        scratch = Path(sd.scratch_dir) / "checkpoint" if sd.scratch_dir else None
        resume = scratch if scratch is not None and (scratch / "trainer_state.json").exists() else None
        result = StageResult()
        global_step, start = 0, 0
        src = resume or init_checkpoint
        if src is not None:
            state = load_checkpoint(Path(src), ddp, opt)
            global_step = int(state["global_step"])
            if resume is not None:
                start = int(state["stage_step"])
                result.losses, result.step_times = list(state["losses"]), list(state["step_times"])
                result.tokens, result.resumed_from_step = int(state["tokens"]), start
        dp = parallel_state.get_data_parallel_world_size()
        dp_rank = parallel_state.get_data_parallel_rank()
        ddp.train()
        fp8_ctx = _fp8_context(config, cfg) if use_te else None
        for step in range(start, total):
            t0 = time.perf_counter()
            batches = step_batches(data, schedule, step, sd, dp=dp)
            n = max(batches.target_tokens, 1)
            ddp.zero_grad_buffer()
            opt.zero_grad()
            local = torch.zeros((), dtype=torch.float64, device=device)
            for b in batches.per_rank[dp_rank]:
                if fp8_ctx is not None:
                    with fp8_ctx():
                        loss_sum, _ = packed_forward(ddp, b, device)
                else:
                    loss_sum, _ = packed_forward(ddp, b, device)
                (loss_sum / n).backward()
                local += loss_sum.detach().double()
            ddp.finish_grad_sync()
            lr = lr_plan.at(global_step)
            set_lr(opt.param_groups, lr)
            ok, _, _ = opt.step()
            dist.all_reduce(local, group=parallel_state.get_data_parallel_group(with_context_parallel=True))
            loss = float(local) / n
            if on_gpu:
                torch.cuda.synchronize()
            dt = time.perf_counter() - t0
            global_step += 1
            result.losses.append(loss)
            result.step_times.append(dt)
            result.tokens += batches.target_tokens
            if sd.on_step is not None and dist.get_rank() == 0:
                sd.on_step({"step": step, "global_step": global_step, "loss": loss, "lr": lr, "step_time_s": dt,
                            "target_tokens": batches.target_tokens, "bins": sum(len(r) for r in batches.per_rank),
                            "samples": batches.samples})
            done = step + 1
            if scratch is not None and sd.checkpoint_every and done % sd.checkpoint_every == 0 and done < total:
                save_checkpoint(scratch, ddp, opt, _state(global_step, done, result))
        result.steps = len(result.losses)
        save_checkpoint(Path(out_checkpoint), ddp, opt, _state(global_step, total, result))
        if dist.get_rank() == 0 and scratch is not None and scratch.exists():
            shutil.rmtree(scratch)
        result.extra.update({"placement": where, "global_step": global_step, "transformer_engine": use_te,
                             "precision": str(tr.precision), "fp8_recipe": str(tr.fp8_recipe) if str(tr.precision) == "fp8" else None})
        return result


def _state(global_step: int, stage_step: int, result: StageResult) -> dict:
    return {"global_step": global_step, "stage_step": stage_step, "losses": result.losses,
            "step_times": result.step_times, "tokens": result.tokens}


def _fp8_context(config, cfg):
    """``transformer_engine`` autocast for the configured FP8 recipe, or None without FP8."""
    if not config.fp8:
        return None
    from megatron.core.fp8_utils import get_fp8_context

    return lambda: get_fp8_context(config)


def teardown() -> None:
    import torch.distributed as dist
    from megatron.core import parallel_state

    parallel_state.destroy_model_parallel()
    if dist.is_initialized():
        dist.destroy_process_group()


__all__ = ["MegatronTrainer", "init_parallel", "build_model", "build_optimizer", "packed_forward", "checkpoint_logits",
           "save_checkpoint", "load_checkpoint", "teardown", "te_available"]
