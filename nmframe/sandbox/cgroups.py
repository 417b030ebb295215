"""One control group per session, where the host lets this process make one.

Why: per-process rlimits do not bound what a session holds in the kernel on its behalf (tmpfs
and shared memory pages, slab, the sum over its processes).  A memory cgroup counts all of it
and a pids cgroup bounds every task of the session together.  Both the unified hierarchy
(cgroup v2: memory.max, memory.swap.max, pids.max) and the v1 ``memory`` and ``pids``
controllers are handled.  A session's group is made under a *parent*: by default the group
this process is in (usable when it is writable: root, or a subtree delegated to the user, as
a CI job or a Slurm job step can do); ``Sandbox(cgroup_parent=...)`` names another one.
Where no parent is writable, ``find_parents`` says so and the session runs without one.
"""
from __future__ import annotations

import os
import time

ROOT = "/sys/fs/cgroup"
V1_CONTROLLERS = ("memory", "pids")


def _own_paths() -> dict[str, str]:
    """hierarchy ("" for v2, else the v1 controller) -> this process's cgroup path in it."""
    out: dict[str, str] = {}
    try:
        with open("/proc/self/cgroup") as fh:
            for line in fh:
                _, ctrls, path = line.rstrip("\n").split(":", 2)
                for ctrl in ctrls.split(",") if ctrls else [""]:
                    out[ctrl] = path
    except OSError:
        pass
    return out


def _v2_mount() -> str | None:
    for candidate in (ROOT, ROOT + "/unified"):
        if os.path.exists(candidate + "/cgroup.controllers"):
            return candidate
    return None


def _writable(path: str) -> bool:
    return os.path.isdir(path) and os.access(path, os.W_OK | os.X_OK)


def find_parents(parent: str | None = None) -> tuple[dict[str, str], str]:
    """Where session groups can be made: ({"memory": dir, "pids": dir} or {"v2": dir}, note).

    ``parent`` is a group below this process's own one in each hierarchy (``"sandboxes"``), or
    from each hierarchy's root when it starts with "/"; None means this process's own group.
    The note says what was found or, when the dict is empty, what is missing."""
    own = {k: (v if parent is None else parent if parent.startswith("/") else os.path.join(v, parent))
           for k, v in _own_paths().items()}
    v2 = _v2_mount()
    if v2 is not None:
        rel = own.get("", "/")
        path = os.path.join(v2, rel.lstrip("/"))
        try:  # session groups get memory.max and pids.max only where the parent hands them down
            ctrls = open(os.path.join(path, "cgroup.subtree_control")).read().split()
        except OSError:
            ctrls = []
        if {"memory", "pids"} <= set(ctrls) and _writable(path):
            return {"v2": path}, f"cgroup v2 under {path}"
    found: dict[str, str] = {}
    for ctrl in V1_CONTROLLERS:
        rel = own.get(ctrl)
        if rel is None:
            continue
        path = os.path.join(ROOT, ctrl, rel.lstrip("/"))
        if _writable(path):
            found[ctrl] = path
    if len(found) == len(V1_CONTROLLERS):
        return found, "cgroup v1 memory+pids under " + ", ".join(found.values())
    where = ", ".join(sorted({own[k] for k in ("", *V1_CONTROLLERS) if k in own})) or "not in any cgroup"
    return {}, (f"no writable memory and pids cgroup ({where}); delegate one to this user or set "
                "sandbox cgroup_parent")


def _write(path: str, value: str) -> None:
    with open(path, "w") as fh:
        fh.write(value)


def create(parents: dict[str, str], name: str, memory_bytes: int, max_pids: int) -> list[str]:
    """Make the session's group in every hierarchy and set its limits; returns the dirs made."""
    made: list[str] = []
    try:
        for kind, parent in parents.items():
            path = os.path.join(parent, name)
            os.mkdir(path, 0o755)
            made.append(path)
            if kind == "v2":
                _write(os.path.join(path, "memory.max"), str(memory_bytes))
                if os.path.exists(os.path.join(path, "memory.swap.max")):
                    _write(os.path.join(path, "memory.swap.max"), "0")
                _write(os.path.join(path, "pids.max"), str(max_pids))
            elif kind == "memory":
                _write(os.path.join(path, "memory.limit_in_bytes"), str(memory_bytes))
                swap = os.path.join(path, "memory.memsw.limit_in_bytes")
                if os.path.exists(swap):
                    _write(swap, str(memory_bytes))
            elif kind == "pids":
                _write(os.path.join(path, "pids.max"), str(max_pids))
    except OSError:
        remove(made)
        raise
    return made


def join(paths: list[str]) -> None:
    """Move the calling process into every group in ``paths`` (its children follow)."""
    for path in paths:
        _write(os.path.join(path, "cgroup.procs"), str(os.getpid()))


def remove(paths: list[str], wait_s: float = 2.0) -> None:
    """Remove the groups once their processes are gone (a dying process lingers briefly)."""
    deadline = time.monotonic() + wait_s
    for path in reversed(paths):
        while True:
            try:
                os.rmdir(path)
                break
            except FileNotFoundError:
                break
            except OSError:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.02)
