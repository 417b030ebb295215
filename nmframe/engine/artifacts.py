"""Content-addressed artifact directories: `<root>/<step>/<key>/`.

Why: a finished step must never be recomputed, and a crash or a damaged file must never leave
something that is used as finished. A task writes into a private temporary directory next to its
final path; `commit` lists every file in `manifest.json` (see integrity.py) and moves the
directory into place, swapping out a forced old copy in one atomic exchange, so "the final
directory exists" means "complete" and no kill at any instruction leaves a key without an
artifact. `check` / `reusable` say whether an artifact may be reused, and why not. A per-key lock
(flock, released by the kernel when its holder dies) makes two concurrent runs compute a key once;
its holder also restores or clears what a killed commit left behind.
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Callable, Optional

from nmframe.engine.integrity import MANIFEST, Verdict, check_files, file_digest, files_digest, list_files

__all__ = ["MANIFEST", "ArtifactStore", "LeaseTimeout", "Verdict", "file_digest", "files_digest", "list_files"]

_TEMP, _OLD, _LEGACY_TRASH = ".tmp", ".old", ".trash"

# Called with the name of each point of `commit` (tests use it to kill the process there).
commit_hook: Optional[Callable[[str], None]] = None


class LeaseTimeout(TimeoutError):
    pass


def _renameat2_exchange(a: Path, b: Path) -> None:
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); OSError where refused."""
    libc = ctypes.CDLL(None, use_errno=True)
    fn = getattr(libc, "renameat2", None)
    if fn is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available")
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), str(a))


def _hook(point: str) -> None:
    if commit_hook is not None:
        commit_hook(point)


class ArtifactStore:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, step: str, key: str) -> Path:
        return self.root / step / key

    def check(self, step: str, key: str, deep: bool = False) -> Verdict:
        """Is (step, key) complete and undamaged? Sizes always; hashes of files whose mtime moved;
        every hash when deep. Never raises for a damaged artifact: the verdict says why."""
        final = self.path(step, key)
        mpath = final / MANIFEST
        if not final.is_dir():
            return Verdict("missing")
        if not mpath.is_file():
            return Verdict("damaged", f"{MANIFEST} is missing")
        try:
            manifest = json.loads(mpath.read_text())
        except (ValueError, UnicodeDecodeError):
            return Verdict("damaged", f"{MANIFEST} is not valid JSON")
        if not isinstance(manifest, dict):
            return Verdict("damaged", f"{MANIFEST} is not a JSON object")
        if manifest.get("step") != step or manifest.get("key") != key:
            return Verdict("damaged", f"{MANIFEST} describes {manifest.get('step')}/{manifest.get('key')}, "
                                      f"not {step}/{key}")
        files = manifest.get("files")
        if not isinstance(files, dict):
            return Verdict("damaged", f"{MANIFEST} lists no files (written before file checks existed)")
        reason = check_files(final, files, deep)
        return Verdict("damaged", reason) if reason else Verdict("ok")

    def reusable(self, step: str, key: str, inputs: dict[str, tuple[str, str]], deep: bool = False) -> Verdict:
        """`check`, plus: every input (name -> (step, key)) still has the content this artifact was
        computed from. A recomputed input that came out different makes the artifact stale."""
        verdict = self.check(step, key, deep)
        if not verdict.ok:
            return verdict
        recorded = (self.manifest(step, key) or {}).get("inputs") or {}
        for name, (in_step, in_key) in sorted(inputs.items()):
            was = recorded.get(name, {}).get("digest") if isinstance(recorded.get(name), dict) else None
            now = self.content_digest(in_step, in_key)
            if was is None or now is None or was != now:
                return Verdict("stale", f"input {name!r} ({in_step}/{in_key}) changed since it was computed")
        return verdict

    def is_done(self, step: str, key: str) -> bool:
        return self.check(step, key).ok

    def manifest(self, step: str, key: str) -> dict | None:
        p = self.path(step, key) / MANIFEST
        try:
            return json.loads(p.read_text()) if p.is_file() else None
        except (ValueError, UnicodeDecodeError):
            return None

    def content_digest(self, step: str, key: str) -> str | None:
        m = self.manifest(step, key)
        files = m.get("files") if isinstance(m, dict) else None
        return files_digest(files) if isinstance(files, dict) else None

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
            self.recover(step, key)
            yield
        finally:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def recover(self, step: str, key: str) -> None:
        """Clear what killed processes left for this key; call only under the key's lease (no live
        process is writing them). An old artifact set aside by a commit that died before the new
        one was in place is moved back; every other leftover is removed."""
        step_dir = self.root / step
        final = self.path(step, key)
        for p in sorted(step_dir.glob(f"{_OLD}-{key}-*")) + sorted(step_dir.glob(f"{_LEGACY_TRASH}-{key}-*")):
            if not final.exists() and (p / MANIFEST).is_file():
                os.rename(p, final)
                _fsync_dir(step_dir)
            else:
                shutil.rmtree(p, ignore_errors=True)
        for p in step_dir.glob(f"{_TEMP}-{key}-*"):
            shutil.rmtree(p, ignore_errors=True)

    def new_temp(self, step: str, key: str) -> Path:
        d = self.root / step / f"{_TEMP}-{key}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        d.mkdir(parents=True)
        return d

    def commit(self, step: str, key: str, temp: Path, manifest: dict) -> Path:
        """List the files, write the manifest last, fsync, and move `temp` into place. A forced
        old copy is swapped out in one atomic exchange (the old one then lies at the temp path and
        is removed); where the filesystem refuses the exchange, the old copy is set aside and only
        removed once the new one is in place (`recover` moves it back after a kill in between)."""
        manifest = {**manifest, "step": step, "key": key, "files": list_files(temp)}
        try:
            (temp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
        except OSError as exc:  # disk full: name the file, not just the errno
            raise OSError(exc.errno, exc.strerror, str(temp / MANIFEST)) from exc
        _fsync_tree(temp)
        final = self.path(step, key)
        _hook("written")
        if not final.exists():
            os.rename(temp, final)
            _hook("renamed")
            _fsync_dir(final.parent)
            return final
        try:
            _renameat2_exchange(temp, final)
        except OSError as exc:
            if exc.errno not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
                raise
            return self._commit_keeping_old(key, temp, final)
        _hook("exchanged")
        _fsync_dir(final.parent)
        shutil.rmtree(temp, ignore_errors=True)  # the old copy
        _hook("removed-old")
        return final

    def _commit_keeping_old(self, key: str, temp: Path, final: Path) -> Path:
        old = final.with_name(f"{_OLD}-{key}-{uuid.uuid4().hex[:8]}")
        os.rename(final, old)
        _hook("set-aside-old")
        os.rename(temp, final)
        _hook("renamed")
        _fsync_dir(final.parent)
        shutil.rmtree(old, ignore_errors=True)
        _hook("removed-old")
        return final

    def discard(self, temp: Path) -> None:
        shutil.rmtree(temp, ignore_errors=True)

    def artifacts(self) -> list[tuple[str, str]]:
        """(step, key) of every committed artifact directory in the store."""
        if not self.root.is_dir():
            return []
        return sorted((s.name, k.name) for s in self.root.iterdir() if s.is_dir() and not s.name.startswith(".")
                      for k in s.iterdir() if k.is_dir() and not k.name.startswith("."))


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
