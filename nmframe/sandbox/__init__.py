"""Isolated, stateful Python execution for tool-integrated reasoning traces.

``Sandbox`` runs model-written code as Jupyter-like cells in long-lived worker processes, one
per ``session_id``, each contained by kernel namespaces (no network, private PID and mount
namespaces), a dedicated unprivileged uid, and resource limits; see ``isolation`` for what
contains which attack and ``Sandbox.isolation`` for what is in force on this machine.
"""
from .result import RESET_NOTICE, ExecResult
from .sandbox import Sandbox
from .session import SandboxStartError

__all__ = ["Sandbox", "ExecResult", "SandboxStartError", "RESET_NOTICE"]
