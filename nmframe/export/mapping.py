"""Megatron-Core GPTModel tensors -> Hugging Face Qwen3 / Qwen3-MoE tensors (names and layouts).

The global (layout-independent) tensors of a dist checkpoint, per decoder layer, and where each
goes in ``Qwen3ForCausalLM`` / ``Qwen3MoeForCausalLM`` (hub file format, the one vLLM and
transformers load):

====================================================  =============================================
``embedding.word_embeddings.weight``                  ``model.embed_tokens.weight`` (padding rows cut)
``self_attention.linear_qkv.layer_norm_weight``       ``input_layernorm.weight``
``self_attention.linear_qkv.weight``                  ``self_attn.{q,k,v}_proj.weight`` (split below)
``self_attention.q_layernorm.weight`` / ``k_...``     ``self_attn.q_norm.weight`` / ``k_norm``
``self_attention.linear_proj.weight``                 ``self_attn.o_proj.weight``
``mlp.linear_fc1.layer_norm_weight``                  ``post_attention_layernorm.weight``
``mlp.linear_fc1.weight`` ([gate; up])                ``mlp.gate_proj.weight``, ``mlp.up_proj.weight``
``mlp.linear_fc2.weight``                             ``mlp.down_proj.weight``
``mlp.router.weight``                                 ``mlp.gate.weight`` (MoE)
``mlp.experts.experts.linear_fc1.weight`` [E, ...]    ``mlp.experts.<e>.{gate,up}_proj.weight`` (MoE)
``mlp.experts.experts.linear_fc2.weight`` [E, ...]    ``mlp.experts.<e>.down_proj.weight`` (MoE)
``decoder.final_layernorm.weight``                    ``model.norm.weight``
``output_layer.weight`` (untied)                      ``lm_head.weight`` (padding rows cut)
====================================================  =============================================

The layer norms are stored under the Transformer Engine names (``linear_qkv.layer_norm_weight``,
``linear_fc1.layer_norm_weight``) by both layer specs: the local spec maps its separate
``input_layernorm`` / ``pre_mlp_layernorm`` to those names when it saves; the separate names are
accepted too. Fused QKV rows: ``num_query_groups`` groups, each ``heads_per_group`` query heads
then one key head then one value head, ``head_dim`` rows each; query head ``g * heads_per_group
+ j`` belongs to group ``g``, the grouping Hugging Face's GQA uses (kv head ``h // heads_per_group``).
A tensor-parallel save writes whole groups per rank (and gate / up halves per rank through its
SwiGLU factory), so the global tensor has this layout whatever TP trained it.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

EMBED = "embedding.word_embeddings.weight"
FINAL_NORM = "decoder.final_layernorm.weight"
OUTPUT = "output_layer.weight"
LAYER = "decoder.layers."

# name used here -> checkpoint key(s) of the layer-stacked tensor, first present wins
LAYER_KEYS = {
    "input_norm": ("self_attention.linear_qkv.layer_norm_weight", "input_layernorm.weight"),
    "qkv": ("self_attention.linear_qkv.weight",),
    "q_norm": ("self_attention.q_layernorm.weight",),
    "k_norm": ("self_attention.k_layernorm.weight",),
    "proj": ("self_attention.linear_proj.weight",),
    "pre_mlp_norm": ("mlp.linear_fc1.layer_norm_weight", "pre_mlp_layernorm.weight"),
    "fc1": ("mlp.linear_fc1.weight",),
    "fc2": ("mlp.linear_fc2.weight",),
    "router": ("mlp.router.weight",),
    "expert_fc1": ("mlp.experts.experts.linear_fc1.weight",),
    "expert_fc2": ("mlp.experts.experts.linear_fc2.weight",),
}
DENSE_PARTS = ("input_norm", "qkv", "q_norm", "k_norm", "proj", "pre_mlp_norm", "fc1", "fc2")
MOE_PARTS = ("input_norm", "qkv", "q_norm", "k_norm", "proj", "pre_mlp_norm", "router", "expert_fc1", "expert_fc2")


class MappingError(ValueError):
    """A tensor's shape does not match the model geometry it is exported as."""


@dataclass(frozen=True)
class Geometry:
    num_layers: int
    hidden_size: int
    num_attention_heads: int
    num_query_groups: int
    head_dim: int
    ffn_hidden_size: int
    num_experts: int = 0            # 0: dense
    moe_ffn_hidden_size: int = 0

    @property
    def moe(self) -> bool:
        return self.num_experts > 0

    @property
    def heads_per_group(self) -> int:
        if self.num_attention_heads % self.num_query_groups:
            raise MappingError(f"{self.num_attention_heads} attention heads do not split into "
                               f"{self.num_query_groups} query groups")
        return self.num_attention_heads // self.num_query_groups

    @classmethod
    def from_model_cfg(cls, m) -> Geometry:
        moe = str(m.arch) == "moe"
        return cls(num_layers=int(m.num_layers), hidden_size=int(m.hidden_size),
                   num_attention_heads=int(m.num_attention_heads), num_query_groups=int(m.num_kv_heads),
                   head_dim=int(m.head_dim), ffn_hidden_size=int(m.ffn_hidden_size),
                   num_experts=int(m.num_experts) if moe else 0,
                   moe_ffn_hidden_size=int(m.moe_ffn_hidden_size) if moe else 0)


def _expect(name: str, t: torch.Tensor, shape: tuple) -> None:
    if tuple(t.shape) != tuple(shape):
        raise MappingError(f"{name}: shape {tuple(t.shape)}, expected {tuple(shape)} for this model geometry")


def split_qkv(w: torch.Tensor, geo: Geometry) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Megatron's fused ``linear_qkv`` weight -> (q_proj, k_proj, v_proj) weights."""
    g, hpg, d, h = geo.num_query_groups, geo.heads_per_group, geo.head_dim, geo.hidden_size
    _expect("linear_qkv.weight", w, ((hpg + 2) * g * d, h))
    per_group = w.reshape(g, hpg + 2, d, h)
    q = per_group[:, :hpg].reshape(g * hpg * d, h)
    k = per_group[:, hpg].reshape(g * d, h)
    v = per_group[:, hpg + 1].reshape(g * d, h)
    return q.contiguous(), k.contiguous(), v.contiguous()


def split_gate_up(w: torch.Tensor, ffn: int, hidden: int, name: str = "linear_fc1.weight"):
    """Megatron's gated ``linear_fc1`` weight ``[gate; up]`` -> (gate_proj, up_proj) weights."""
    _expect(name, w, (2 * ffn, hidden))
    return w[:ffn].contiguous(), w[ffn:].contiguous()


def layer_to_hf(i: int, t: dict[str, torch.Tensor], geo: Geometry) -> dict[str, torch.Tensor]:
    """One decoder layer's tensors (keys of :data:`LAYER_KEYS`, layer axis removed) in HF names."""
    h, d = geo.hidden_size, geo.head_dim
    p = f"model.layers.{i}."
    q, k, v = split_qkv(t["qkv"], geo)
    _expect("linear_proj.weight", t["proj"], (h, geo.num_attention_heads * d))
    for name in ("input_norm", "pre_mlp_norm"):
        _expect(name, t[name], (h,))
    for name in ("q_norm", "k_norm"):
        _expect(name, t[name], (d,))
    out = {p + "input_layernorm.weight": t["input_norm"], p + "self_attn.q_proj.weight": q,
           p + "self_attn.k_proj.weight": k, p + "self_attn.v_proj.weight": v,
           p + "self_attn.q_norm.weight": t["q_norm"], p + "self_attn.k_norm.weight": t["k_norm"],
           p + "self_attn.o_proj.weight": t["proj"], p + "post_attention_layernorm.weight": t["pre_mlp_norm"]}
    if not geo.moe:
        gate, up = split_gate_up(t["fc1"], geo.ffn_hidden_size, h)
        _expect("linear_fc2.weight", t["fc2"], (h, geo.ffn_hidden_size))
        out.update({p + "mlp.gate_proj.weight": gate, p + "mlp.up_proj.weight": up,
                    p + "mlp.down_proj.weight": t["fc2"]})
        return out
    e, f = geo.num_experts, geo.moe_ffn_hidden_size
    _expect("router.weight", t["router"], (e, h))
    _expect("experts.linear_fc1.weight", t["expert_fc1"], (e, 2 * f, h))
    _expect("experts.linear_fc2.weight", t["expert_fc2"], (e, h, f))
    out[p + "mlp.gate.weight"] = t["router"]
    for j in range(e):
        gate, up = split_gate_up(t["expert_fc1"][j], f, h, name=f"experts.linear_fc1.weight[{j}]")
        out[p + f"mlp.experts.{j}.gate_proj.weight"] = gate
        out[p + f"mlp.experts.{j}.up_proj.weight"] = up
        out[p + f"mlp.experts.{j}.down_proj.weight"] = t["expert_fc2"][j].contiguous()
    return out


def vocab_rows(w: torch.Tensor, vocab_size: int, name: str) -> torch.Tensor:
    """The first ``vocab_size`` rows (Megatron pads the vocabulary to a multiple of 128 x TP)."""
    if w.shape[0] < vocab_size:
        raise MappingError(f"{name}: {w.shape[0]} rows, fewer than the vocabulary ({vocab_size})")
    return w[:vocab_size].contiguous()
