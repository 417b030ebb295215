"""What an artifact's manifest says about its files, and whether the files still say the same.

Why: an artifact is reused only while it is exactly what was computed. The manifest lists every
file's size, sha256 and mtime; `check_files` compares sizes always and re-hashes a file only when
its mtime moved (or on a full verify), so the routine check costs a stat per file and still catches
a deleted, truncated or edited file. The hashes are taken once, at commit, from the finished
files: steps write through many libraries (json, pyarrow, torch), and the commit is the one place
that sees every file.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from nmframe.datafiles import sha256_file

MANIFEST = "manifest.json"
NOT_CONTENT = frozenset({"step.log"})  # listed and checked, but not part of what downstream artifacts depend on


@dataclass(frozen=True)
class Verdict:
    """What `ArtifactStore.check` found: state is "ok", "missing", "damaged" or "stale" (with the
    reason)."""
    state: str
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.state == "ok"


file_digest = sha256_file  # the sha256 a manifest records for each file


def list_files(root: Path) -> dict[str, dict]:
    """relative path -> {size, sha256, mtime_ns} of every file under root except the manifest."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            p = Path(dirpath) / name
            rel = p.relative_to(root).as_posix()
            if rel == MANIFEST:
                continue
            st = p.stat()
            out[rel] = {"size": st.st_size, "sha256": file_digest(p), "mtime_ns": st.st_mtime_ns}
    return out


def files_digest(files: dict[str, dict]) -> str:
    """One hash of an artifact's content (its file names and hashes): what a downstream artifact
    records of each input, so a recomputed input that came out different makes it stale. The
    step's own log is left out: it differs on every computation without changing the result."""
    canon = json.dumps({k: v.get("sha256") for k, v in sorted(files.items()) if k not in NOT_CONTENT}, sort_keys=True)
    return hashlib.sha256(canon.encode()).hexdigest()


def check_files(root: Path, files: dict, deep: bool) -> str:
    """The first reason the files under root differ from the manifest's list, or ""."""
    for rel, want in sorted(files.items()):
        if not isinstance(want, dict) or not isinstance(want.get("size"), int) or not isinstance(want.get("sha256"), str):
            return f"manifest entry for {rel!r} is malformed"
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            return f"manifest lists a file outside the artifact: {rel!r}"
        p = root / rel
        try:
            st = p.stat()
        except FileNotFoundError:
            return f"{rel} is missing"
        if st.st_size != want["size"]:
            return f"{rel} has {st.st_size} bytes, the manifest says {want['size']}"
        if deep or st.st_mtime_ns != want.get("mtime_ns"):
            if file_digest(p) != want["sha256"]:
                return f"{rel} was modified (sha256 differs from the manifest)"
    return ""
