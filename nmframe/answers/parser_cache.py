"""The LaTeX parser's prediction cache (ANTLR's DFA), kept between grading processes.

Why: ANTLR decides which grammar rule comes next by simulating the grammar's ATN and
caches every decision it made as DFA states, per process. latex2sympy2's grammar is
large, so a fresh grading worker spends about a second building that cache before its
parses get fast (the same answer strings parse in 1.7 s in a new process, 0.5 s once the
cache is warm). The DFA is a pure cache of the grammar's decisions: a parse gives the
same tree with or without it. So a worker loads the DFA a previous worker saved, and
saves its own when it ends if it learned new decisions. The file is capped at 8 MB
(about a second to read; the workloads of the tests and benches fill 3.4 MB).

Where: ``$NMFRAME_CACHE/grader/latex-dfa-<key>.pickle`` (default ``~/.cache/nmframe``),
``<key>`` a digest of the ANTLR runtime and latex2sympy2 versions, the Python version
and the parser's serialized grammar, so a file never meets another grammar. Objects of
the grammar (ATN states) and ANTLR's singletons (the error state, the empty context,
the empty predicate) are written as references and resolved against this process's
own, so identity checks in ANTLR keep working.

Safety: the file is a pickle, so it is read only when it belongs to the current user and
nobody else can write it or its folder; anything wrong with it (foreign, corrupt, other
shape) means a cold start, never a failed grade. ``NMFRAME_GRADER_DFA_CACHE=0`` turns the
cache off.
"""
from __future__ import annotations

import hashlib
import io
import os
import pickle
import platform
import stat
import sys
import tempfile
import threading
import time
from pathlib import Path

ENV_SWITCH = "NMFRAME_GRADER_DFA_CACHE"
# Every worker reads the file when it starts (about 0.15 s per MB), so it is capped: a DFA
# that outgrows this is not written, and the file keeps the decisions it already has.
_MAX_BYTES = 8 * 1024 * 1024
_STALE_TMP_S = 3600.0  # a temporary file this old was left by a worker killed mid-write
_state = {"loaded_states": 0}


def enabled() -> bool:
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


def _parser_class():
    from latex2sympy2_extended import latex2sympy2 as l2s

    return l2s.PSParser


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = [platform.python_implementation(), platform.python_version()]
    for dist in ("antlr4-python3-runtime", "latex2sympy2_extended"):
        try:
            parts.append(f"{dist}={version(dist)}")
        except PackageNotFoundError:
            parts.append(f"{dist}=?")
    return " ".join(parts)


def cache_path() -> Path:
    """The cache file for the installed parser."""
    parser = _parser_class()
    serialized = getattr(sys.modules.get(parser.__module__), "serializedATN", None)  # generated code
    digest = hashlib.sha256()
    digest.update(_versions().encode())
    digest.update(parser.__module__.encode())
    digest.update(str(serialized() if callable(serialized) else parser.grammarFileName).encode())
    from nmframe.models.cache import cache_root

    return cache_root() / "grader" / f"latex-dfa-{digest.hexdigest()[:16]}.pickle"


def _singletons() -> dict[str, object]:
    from antlr4.atn.ATNSimulator import ATNSimulator
    from antlr4.atn.SemanticContext import SemanticContext
    from antlr4.PredictionContext import PredictionContext

    return {"error": ATNSimulator.ERROR, "none": SemanticContext.NONE,
            "empty": PredictionContext.EMPTY}


def _dfa_state_count() -> int:
    return sum(len(d._states) for d in _parser_class().decisionsToDFA)


class _Writer(pickle.Pickler):
    def __init__(self, file, singletons: dict[str, object]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        from antlr4.atn.ATNState import ATNState

        self._state_type = ATNState
        self._ids = {id(obj): name for name, obj in singletons.items()}

    def persistent_id(self, obj):
        name = self._ids.get(id(obj))
        if name is not None:
            return (name,)
        if isinstance(obj, self._state_type):
            return ("state", obj.stateNumber)
        return None


class _Reader(pickle.Unpickler):
    def __init__(self, file, singletons: dict[str, object], states) -> None:
        super().__init__(file)
        self._singletons = singletons
        self._states = states

    def persistent_load(self, pid):
        if pid[0] == "state":
            return self._states[pid[1]]
        return self._singletons[pid[0]]

    def find_class(self, module, name):
        if not module.startswith("antlr4.") and module not in ("builtins",):
            raise pickle.UnpicklingError(f"unexpected class {module}.{name}")
        return super().find_class(module, name)


def _trusted(path: Path) -> bool:
    """Owned by this user, not writable by group or others, nor is its folder."""
    uid = os.getuid()
    for p in (path, path.parent):
        st = p.stat()
        if st.st_uid != uid or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return False
    return path.stat().st_size <= _MAX_BYTES


def _deep(fn, *args):
    """Run ``fn`` where pickle may recurse deeply (chains of DFA states and contexts)."""
    result: list = []
    errors: list[BaseException] = []

    def run() -> None:
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(max(old, 200_000))
        try:
            result.append(fn(*args))
        except BaseException as e:  # noqa: BLE001 - re-raised below
            errors.append(e)
        finally:
            sys.setrecursionlimit(old)

    size = threading.stack_size()
    threading.stack_size(256 * 1024 * 1024)
    try:
        t = threading.Thread(target=run)
        t.start()
    finally:
        threading.stack_size(size)
    t.join()
    if errors:
        raise errors[0]
    return result[0]


def load() -> bool:
    """Install the saved DFA into the parser class if there is a usable one; True if it was.
    Call before the first parse of the process."""
    if not enabled():
        return False
    try:
        path = cache_path()
        if not path.is_file() or not _trusted(path):
            return False
        parser = _parser_class()
        if _dfa_state_count():
            return False  # this process has parsed already: keep what it learned
        data = path.read_bytes()
        payload = _deep(lambda: _Reader(io.BytesIO(data), _singletons(), parser.atn.states).load())
        dfas = payload["dfa"]
        if len(dfas) != len(parser.decisionsToDFA):
            return False
        for dfa, (decision, states, s0, precedence) in zip(parser.decisionsToDFA, dfas):
            if decision != dfa.decision or precedence != dfa.precedenceDfa:
                return False
        for dfa, (_, states, s0, _) in zip(parser.decisionsToDFA, dfas):
            dfa._states = states
            dfa.s0 = s0
        parser.sharedContextCache.cache.update(payload["contexts"])
    except Exception:  # noqa: BLE001 - a cache: anything wrong means a cold start
        return False
    _state["loaded_states"] = _dfa_state_count()
    return True


def _remove_stale_temporaries(path: Path) -> None:
    now = time.time()
    for tmp in path.parent.glob(path.name + "*.tmp"):
        try:
            if now - tmp.stat().st_mtime > _STALE_TMP_S:
                tmp.unlink()
        except OSError:
            pass


def save_if_grown(min_new_states: int = 1) -> bool:
    """Write this process's DFA if it has at least ``min_new_states`` more states than it
    started with; True if written. Atomic (a temporary file renamed), owner-only."""
    if not enabled():
        return False
    try:
        count = _dfa_state_count()
        if count - _state["loaded_states"] < min_new_states:
            return False
        parser = _parser_class()
        payload = {
            "dfa": [(d.decision, d._states, d.s0, d.precedenceDfa) for d in parser.decisionsToDFA],
            "contexts": parser.sharedContextCache.cache,
        }

        def dump() -> bytes:
            buf = io.BytesIO()
            _Writer(buf, _singletons()).dump(payload)
            return buf.getvalue()

        data = _deep(dump)
        if len(data) > _MAX_BYTES:
            return False
        path = cache_path()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _remove_stale_temporaries(path)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except Exception:  # noqa: BLE001 - a cache: failing to write it changes nothing
        return False
    _state["loaded_states"] = count
    return True
