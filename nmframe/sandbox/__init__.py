"""Isolated, stateful Python execution for tool-integrated reasoning traces.

``Sandbox`` runs model-written code as Jupyter-like cells in long-lived worker processes, one
per ``session_id``, each contained by kernel namespaces (no network, private PID, mount, IPC
and UTS namespaces; a user namespace when the caller is not root), a private root holding only
the system libraries, the interpreter and its installed packages, an unprivileged uid without
capabilities, a seccomp allow-list, resource limits and, where one can be had, a cgroup per
session.  See ``isolation`` for what contains which attack, ``Sandbox.isolation`` for what is
in force on this machine and ``policy`` for the rule generate and evaluate follow.
"""
from .result import RESET_NOTICE, ExecResult
from .sandbox import Sandbox
from .session import SandboxStartError

__all__ = ["Sandbox", "ExecResult", "SandboxStartError", "RESET_NOTICE"]
