"""Content-addressed artifact directories: `<root>/<step>/<key>/`.

Why: a finished step must never be recomputed, and a crash must never leave something that looks
finished. A task writes into a private temporary directory next to its final path and renames it
into place only after `manifest.json` is written; so "the final directory exists" means
"complete". A per-key lock (flock, released by the kernel when its holder dies) makes two
concurrent runs compute a key once: the second waits, then finds the artifact and reuses it.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
import uuid
from pathlib import Path

MANIFEST = "manifest.json"


class LeaseTimeout(TimeoutError):
    pass


class ArtifactStore:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, step: str, key: str) -> Path:
        return self.root / step / key

    def is_done(self, step: str, key: str) -> bool:
        return (self.path(step, key) / MANIFEST).is_file()

    def manifest(self, step: str, key: str) -> dict | None:
        p = self.path(step, key) / MANIFEST
        return json.loads(p.read_text()) if p.is_file() else None

    def _lock_path(self, step: str, key: str) -> Path:
        d = self.root / step / ".locks"
        d.mkdir(parents=True, exist_ok=True)
        return d / f"{key}.lock"

    @contextlib.contextmanager
    def lease(self, step: str, key: str, timeout_s: float | None = None, poll_s: float = 0.2):
        """Hold the exclusive right to compute (step, key). Blocks while another process holds it."""
        fd = os.open(self._lock_path(step, key), os.O_RDWR | os.O_CREAT, 0o644)
        start = time.monotonic()
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if timeout_s is not None and time.monotonic() - start > timeout_s:
                        raise LeaseTimeout(f"{step}/{key} is being computed by another process "
                                           f"(waited {timeout_s:.0f}s)") from None
                    time.sleep(poll_s)
            os.ftruncate(fd, 0)
            os.write(fd, f"pid={os.getpid()} host={os.uname().nodename} since={time.time():.0f}\n".encode())
            self._remove_stale_temps(step, key)
            yield
        finally:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _remove_stale_temps(self, step: str, key: str) -> None:
        """Temporary directories of this key left by a killed process (we hold the lock, so no
        live process is writing them)."""
        for p in (self.root / step).glob(f".tmp-{key}-*"):
            shutil.rmtree(p, ignore_errors=True)

    def new_temp(self, step: str, key: str) -> Path:
        d = self.root / step / f".tmp-{key}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        d.mkdir(parents=True)
        return d

    def commit(self, step: str, key: str, temp: Path, manifest: dict) -> Path:
        """Write the manifest last, fsync, and rename into place. Replaces a forced old copy."""
        (temp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
        _fsync_tree(temp)
        final = self.path(step, key)
        trash = None
        if final.exists():
            trash = final.with_name(f".trash-{key}-{uuid.uuid4().hex[:8]}")
            os.rename(final, trash)
        os.rename(temp, final)
        _fsync_dir(final.parent)
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)
        return final

    def discard(self, temp: Path) -> None:
        shutil.rmtree(temp, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for dirpath, _, files in os.walk(root):
        for f in files:
            fd = os.open(os.path.join(dirpath, f), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    _fsync_dir(root)
