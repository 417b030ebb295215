"""Tiny Qwen3-architecture models and a tokenizer built on this machine, with no hub download.

Why: tests, CI and the quickstart must exercise the real code paths (generation, the harmony tool
loop, packing, training, evaluation) on a CPU with no network. The tokenizer is a byte-level BPE
trained on the text nmframe ships, so every string encodes, and it knows the harmony and
Qwen chat special tokens as single tokens. Both are deterministic: the same config and seed
give the same tokenizer and the same weights on every machine.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile

from nmframe.datafiles import PKG_DATA
from nmframe.models.cache import cache_root

# harmony (teacher format) and Qwen chat (student format) markers, each one token
SPECIAL_TOKENS = [
    "<|endoftext|>", "<|start|>", "<|end|>", "<|message|>", "<|channel|>", "<|call|>", "<|return|>",
    "<|constrain|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>", "<tool_call>", "</tool_call>",
    "<|pad|>",
]
TOKENIZER_VERSION = "1"

QWEN_STYLE_CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{% if m.get('reasoning_content') %}<think>\n{{ m['reasoning_content'] }}\n</think>\n\n{% endif %}"
    "{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _corpus() -> list[str]:
    texts = []
    for path in sorted(PKG_DATA.rglob("*.jsonl")):
        with open(path, encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                texts.extend(v for v in row.values() if isinstance(v, str))
    texts.append("Please reason step by step, and put your final answer within \\boxed{}.")
    texts.append("analysis final python code to=python to=assistant print(1 + 2) Reasoning: high medium low")
    return texts


@functools.lru_cache(maxsize=4)
def build_tiny_tokenizer(vocab_size: int = 512):
    """A byte-level BPE tokenizer trained on the shipped data (cached on disk, built in ~1 s)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    digest = hashlib.sha256(f"{TOKENIZER_VERSION}:{vocab_size}:{SPECIAL_TOKENS}".encode()).hexdigest()[:12]
    cache = cache_root() / "tiny-tokenizer" / digest / "tokenizer.json"
    if not cache.exists():
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
        tok.train_from_iterator(_corpus(), trainer=trainer)
        cache.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=cache.parent, delete=False, suffix=".tmp") as f:
            f.write(tok.to_str())
        os.replace(f.name, cache)
    fast = PreTrainedTokenizerFast(tokenizer_file=str(cache), eos_token="<|endoftext|>", pad_token="<|pad|>",
                                   bos_token=None, unk_token=None)
    fast.chat_template = QWEN_STYLE_CHAT_TEMPLATE
    return fast


def load_tokenizer(name: str, vocab_size: int = 512):
    """`builtin:tiny` builds the local tokenizer; anything else goes to transformers (local path or hub id)."""
    if name.startswith("builtin:"):
        return build_tiny_tokenizer(vocab_size)
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(name)


def tiny_qwen3_config(model_cfg, vocab_size: int | None = None):
    """transformers.Qwen3Config (or Qwen3MoeConfig) from an nmframe model config."""
    import transformers

    common = dict(
        vocab_size=vocab_size or model_cfg.vocab_size, hidden_size=model_cfg.hidden_size,
        num_hidden_layers=model_cfg.num_layers, num_attention_heads=model_cfg.num_attention_heads,
        num_key_value_heads=model_cfg.num_kv_heads, head_dim=model_cfg.head_dim,
        max_position_embeddings=model_cfg.max_position_embeddings, tie_word_embeddings=False,
    )
    if str(model_cfg.arch) == "moe":
        return transformers.Qwen3MoeConfig(intermediate_size=model_cfg.ffn_hidden_size,
                                           moe_intermediate_size=model_cfg.moe_ffn_hidden_size,
                                           num_experts=model_cfg.num_experts,
                                           num_experts_per_tok=model_cfg.moe_router_topk, **common)
    return transformers.Qwen3Config(intermediate_size=model_cfg.ffn_hidden_size, **common)


def build_tiny_model(model_cfg, seed: int = 0, tokenizer=None):
    """Random-weight Qwen3 model from config, deterministic in `seed`."""
    import torch
    import transformers

    tok = tokenizer or build_tiny_tokenizer(model_cfg.vocab_size)
    config = tiny_qwen3_config(model_cfg, vocab_size=len(tok))
    config.eos_token_id = tok.eos_token_id
    config.pad_token_id = tok.pad_token_id
    torch.manual_seed(seed)
    cls = transformers.Qwen3MoeForCausalLM if str(model_cfg.arch) == "moe" else transformers.Qwen3ForCausalLM
    model = cls(config)
    model.eval()
    return model
