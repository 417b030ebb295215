"""The rule every step that runs model-written code follows: isolate it, or refuse, or say so.

``open_for_untrusted_code`` starts a ``Sandbox`` and probes one session before any sample
runs.  Without full isolation (see ``Sandbox.isolation``) it refuses with one line naming
what is missing, unless the run's config sets ``sandbox.allow_unisolated=true``; either way it
logs the mode and returns the report the step records in its manifest.
"""
from __future__ import annotations

import logging

from .sandbox import Sandbox
from .session import SandboxStartError


class IsolationRefused(RuntimeError):
    """Untrusted code would run without isolation and the config does not allow that."""


def manifest_entry(info: dict | None) -> dict:
    """What a step's manifest records about its sandbox (``{"mode": "unused"}`` without one)."""
    if info is None:
        return {"mode": "unused"}
    return {k: info.get(k) for k in ("mode", "missing", "userns", "seccomp", "private_root", "cgroup", "uid",
                                     "limits", "errors")}


def open_for_untrusted_code(allow_unisolated: bool, log: logging.Logger, cgroup_parent: str | None = None,
                            **limits) -> tuple[Sandbox, dict]:
    """A started-and-checked ``Sandbox`` (the caller closes it) and its isolation report."""
    box = Sandbox(require_isolation=not allow_unisolated, cgroup_parent=cgroup_parent, **limits)
    try:
        info = box.isolation
    except SandboxStartError as exc:
        box.close()
        if "cannot be isolated" in str(exc):
            raise IsolationRefused(f"refusing to run model-written code: {exc}; set sandbox.allow_unisolated=true "
                                   "to run it anyway") from None
        raise
    if info["mode"] == "isolated":
        log.info("sandbox: isolated (user namespace: %s, cgroup: %s)", info.get("userns"),
                 info.get("cgroup") or "none: " + "; ".join(info.get("errors") or []))
    else:
        log.warning("sandbox: running model-written code %s (sandbox.allow_unisolated=true): no %s",
                    info["mode"].upper(), ", no ".join(info["missing"]))
    return box, manifest_entry(info)
