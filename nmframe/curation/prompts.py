"""The curation prompts: small text files in ``prompts/``, each fingerprinted into cache keys.

A prompt's wording changes its outputs, so the steps put each prompt's file name and content hash
into their cache keys (:func:`fingerprint`): editing a prompt re-runs the steps that use it. The
extraction prompts are versioned by name (``extract_problems.v1.txt``): a new wording is a new file
(``.v2.txt``), and :func:`load` takes the highest version unless one is pinned
(``extract_answer.v1``). The yes/no prompts (``classify_<category>.txt``,
``decontam_same_problem.txt``, ``judge_equivalence.txt``) have one unversioned file each.
"""
from __future__ import annotations

import hashlib
import re
from functools import cache
from pathlib import Path

PROMPTS = Path(__file__).resolve().parent / "prompts"
_VERSIONED = re.compile(r"^(?P<name>[a-z_]+)\.v(?P<v>\d+)\.txt$")


def _path(name: str) -> Path:
    if re.search(r"\.v\d+$", name):
        p = PROMPTS / f"{name}.txt"
        if p.is_file():
            return p
        raise FileNotFoundError(f"no prompt {name!r} in {PROMPTS}")
    found = [(int(m["v"]), f) for f in PROMPTS.glob(f"{name}.v*.txt") if (m := _VERSIONED.match(f.name)) and m["name"] == name]
    if found:
        return max(found)[1]
    p = PROMPTS / f"{name}.txt"
    if p.is_file():
        return p
    raise FileNotFoundError(f"no prompt {name!r} (looked for {PROMPTS}/{name}.v<N>.txt and {p.name})")


@cache
def load(name: str) -> str:
    return _path(name).read_text(encoding="utf-8")


def render(name: str, **fields) -> str:
    """Fill ``{field}`` placeholders by plain replacement (LaTeX braces stay untouched)."""
    text = load(name)
    for key, value in fields.items():
        text = text.replace("{" + key + "}", "" if value is None else str(value))
    return text


def fingerprint(*names: str) -> dict[str, str]:
    """{file name: sha256 prefix} of the prompts, for a step's cache key."""
    out = {}
    for n in names:
        p = _path(n)
        out[p.name] = hashlib.sha256(p.read_bytes()).hexdigest()[:16]
    return out
