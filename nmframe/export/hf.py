"""Write a Hugging Face Qwen3 / Qwen3-MoE directory from a Megatron dist checkpoint.

Output (what vLLM and transformers load): ``config.json`` (``Qwen3ForCausalLM`` or
``Qwen3MoeForCausalLM``), ``model.safetensors`` (or ``model-0000i-of-0000n.safetensors`` shards
plus ``model.safetensors.index.json`` past ``shard_bytes``), the student's tokenizer files, and
``nmframe_export.json`` (source checkpoint, its global step, dtype, vocabulary rows cut).

The checkpoint is read one decoder layer at a time (see :mod:`nmframe.export.reader`), so the
memory needed is about one layer plus one output shard. Weights keep the checkpoint's dtype
(bf16 from GPU training) unless ``dtype`` says otherwise. The architecture constants are those
of :func:`nmframe.training.megatron_trainer.transformer_config` / ``build_model``: RMSNorm eps
1e-6, RoPE base 1e6 over the whole head dim (rotate-half), QK-norm, SwiGLU, no biases; MoE
routing top-k of the router logits then softmax over those k, i.e. Hugging Face's
``norm_topk_prob=True``.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch

from nmframe.export.mapping import (
    DENSE_PARTS,
    EMBED,
    FINAL_NORM,
    LAYER,
    LAYER_KEYS,
    MOE_PARTS,
    OUTPUT,
    Geometry,
    MappingError,
    layer_to_hf,
    vocab_rows,
)
from nmframe.export.reader import CheckpointError, DistCheckpoint

ROPE_BASE = 1_000_000.0   # build_model: rotary_base
RMS_NORM_EPS = 1e-6       # transformer_config: layernorm_epsilon
FORMAT_VERSION = 1


def hf_config(model_cfg, geo: Geometry, vocab_size: int, dtype: torch.dtype, tokenizer, tied: bool = False):
    """transformers config of the exported model."""
    import transformers

    common = {"vocab_size": vocab_size, "hidden_size": geo.hidden_size, "num_hidden_layers": geo.num_layers,
              "num_attention_heads": geo.num_attention_heads, "num_key_value_heads": geo.num_query_groups,
              "head_dim": geo.head_dim, "intermediate_size": geo.ffn_hidden_size,
              "max_position_embeddings": int(model_cfg.max_position_embeddings), "rms_norm_eps": RMS_NORM_EPS,
              "rope_theta": ROPE_BASE, "attention_bias": False, "hidden_act": "silu", "tie_word_embeddings": tied,
              "eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.pad_token_id,
              "bos_token_id": tokenizer.bos_token_id}
    if geo.moe:
        config = transformers.Qwen3MoeConfig(moe_intermediate_size=geo.moe_ffn_hidden_size,
                                             num_experts=geo.num_experts,
                                             num_experts_per_tok=int(model_cfg.moe_router_topk),
                                             norm_topk_prob=True, decoder_sparse_step=1, mlp_only_layers=[],
                                             **common)
        config.architectures = ["Qwen3MoeForCausalLM"]
    else:
        config = transformers.Qwen3Config(**common)
        config.architectures = ["Qwen3ForCausalLM"]
    config.dtype = dtype
    return config


def _layer_keys(ckpt: DistCheckpoint, geo: Geometry) -> dict[str, str]:
    """Our part name -> the checkpoint key holding it (layer-stacked), checking the layer count."""
    found = {}
    for part in (MOE_PARTS if geo.moe else DENSE_PARTS):
        keys = [LAYER + k for k in LAYER_KEYS[part]]
        key = next((k for k in keys if k in ckpt), None)
        if key is None:
            kind = "MoE" if geo.moe else "dense"
            raise CheckpointError(f"{ckpt.path}: no {' / '.join(keys)} (needed for a {kind} model; check model.arch)")
        if ckpt.shape(key)[0] != geo.num_layers:
            raise MappingError(f"{key}: {ckpt.shape(key)[0]} layers in the checkpoint, model.num_layers="
                               f"{geo.num_layers}")
        found[part] = key
    return found


def _add_legacy_keys(path: Path, dtype: torch.dtype) -> None:
    """Also write the transformers-4 names (``rope_theta``, ``torch_dtype``, MoE ``num_experts``) in
    config.json: loaders built on transformers 4 (older vLLM) read those, and would otherwise fall
    back to their defaults (RoPE base 1e4, 128 experts) without an error."""
    config = json.loads(path.read_text())
    config.setdefault("rope_theta", ROPE_BASE)
    config.setdefault("torch_dtype", str(dtype).replace("torch.", ""))
    if "num_local_experts" in config:
        config.setdefault("num_experts", config["num_local_experts"])
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


class _ShardWriter:
    """safetensors files of at most ~``limit`` bytes each, named and indexed at :meth:`close`."""

    def __init__(self, directory: Path, limit: int, dtype: torch.dtype | None):
        self.dir, self.limit, self.dtype = directory, limit, dtype
        self.pending: dict[str, torch.Tensor] = {}
        self.pending_bytes = 0
        self.files: list[tuple[Path, list[str]]] = []
        self.total_bytes = 0

    def add(self, tensors: dict[str, torch.Tensor]) -> None:
        for name, t in tensors.items():
            t = t.to(self.dtype) if self.dtype is not None else t
            size = t.numel() * t.element_size()
            if self.pending and self.pending_bytes + size > self.limit:
                self._flush()
            self.pending[name] = t.contiguous()
            self.pending_bytes += size
            self.total_bytes += size

    def _flush(self) -> None:
        from safetensors.torch import save_file

        path = self.dir / f"part-{len(self.files):05d}.safetensors.tmp"
        save_file(self.pending, str(path), metadata={"format": "pt"})
        self.files.append((path, list(self.pending)))
        self.pending, self.pending_bytes = {}, 0

    def close(self) -> list[str]:
        if self.pending:
            self._flush()
        n = len(self.files)
        if n == 1:
            os.replace(self.files[0][0], self.dir / "model.safetensors")
            return ["model.safetensors"]
        names, weight_map = [], {}
        for i, (path, keys) in enumerate(self.files):
            name = f"model-{i + 1:05d}-of-{n:05d}.safetensors"
            os.replace(path, self.dir / name)
            names.append(name)
            weight_map.update({k: name for k in keys})
        index = {"metadata": {"total_size": self.total_bytes}, "weight_map": dict(sorted(weight_map.items()))}
        (self.dir / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
        return names


def export_hf(checkpoint: Path, out_dir: Path, model_cfg, *, tokenizer=None, vocab_size: int | None = None,
              dtype: torch.dtype | None = None, shard_bytes: int = 5 * 2 ** 30, source: str | None = None,
              log=None) -> dict:
    """Convert the dist checkpoint ``checkpoint`` of a ``model_cfg`` student into ``out_dir``.

    ``tokenizer`` defaults to ``model_cfg.tokenizer``; ``vocab_size`` (rows kept of the padded
    embedding and output layer) defaults to what the trainer padded: max(len(tokenizer),
    ``model_cfg.vocab_size``). ``out_dir`` appears complete or not at all. Returns the summary
    written to ``nmframe_export.json`` (``source``: how it names the checkpoint, default its path).
    """
    from nmframe.models.tiny import load_tokenizer

    checkpoint, out_dir = Path(checkpoint), Path(out_dir)
    ckpt = DistCheckpoint(checkpoint)
    geo = Geometry.from_model_cfg(model_cfg)
    tok = tokenizer if tokenizer is not None else load_tokenizer(str(model_cfg.tokenizer), int(model_cfg.vocab_size))
    vocab = int(vocab_size) if vocab_size is not None else max(len(tok), int(model_cfg.vocab_size))
    keys = _layer_keys(ckpt, geo)
    tied = OUTPUT not in ckpt
    src_dtype = ckpt.dtype(EMBED)
    out_dtype = dtype or src_dtype

    tmp = out_dir.with_name(out_dir.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    writer = _ShardWriter(tmp, int(shard_bytes), dtype)
    top = ckpt.read([EMBED, FINAL_NORM] + ([] if tied else [OUTPUT]))
    padded_rows = top[EMBED].shape[0]
    writer.add({"model.embed_tokens.weight": vocab_rows(top[EMBED], vocab, EMBED)})
    for i in range(geo.num_layers):
        raw = ckpt.read(list(keys.values()), layer=i)
        writer.add(layer_to_hf(i, {part: raw[key] for part, key in keys.items()}, geo))
        if log is not None:
            log.info("export: layer %d/%d", i + 1, geo.num_layers)
    if top[FINAL_NORM].shape != (geo.hidden_size,):
        raise MappingError(f"{FINAL_NORM}: shape {tuple(top[FINAL_NORM].shape)}, expected ({geo.hidden_size},)")
    writer.add({"model.norm.weight": top[FINAL_NORM]})
    if not tied:
        writer.add({"lm_head.weight": vocab_rows(top[OUTPUT], vocab, OUTPUT)})
    files = writer.close()

    hf_config(model_cfg, geo, vocab, out_dtype, tok, tied=tied).save_pretrained(tmp)
    _add_legacy_keys(tmp / "config.json", out_dtype)
    tok.save_pretrained(tmp)
    state_file = checkpoint / "trainer_state.json"
    summary = {"format_version": FORMAT_VERSION, "source": source or str(checkpoint),
               "global_step": json.loads(state_file.read_text()).get("global_step") if state_file.is_file() else None,
               "architecture": "Qwen3MoeForCausalLM" if geo.moe else "Qwen3ForCausalLM",
               "dtype": str(out_dtype).replace("torch.", ""), "vocab_size": vocab,
               "padded_vocab_rows_cut": padded_rows - vocab, "tied_embeddings": tied, "files": files,
               "bytes": writer.total_bytes}
    (tmp / "nmframe_export.json").write_text(json.dumps(summary, indent=2))
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(tmp, out_dir)
    return summary
