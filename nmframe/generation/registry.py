"""Generation backends by name: a small spec in, an open backend out.

Why: the teacher (`teacher.*` + `generate.*`), the evaluated model (`evaluate.*`) and the LLM
steps all need "a backend serving model M", each from its own config section. They build one
frozen :class:`BackendSpec` and call :func:`open_backend`; the class is looked up by name in a
registry that each backend module fills with ``@register_backend("name")``. Adding a backend is
one module with a class that has ``name``, ``from_spec(spec, stack, log_dir)`` and the
:class:`~nmframe.generation.base.Backend` protocol, plus its import in ``_BUILTIN_MODULES`` (or
in a plugin module named in ``NMFRAME_PLUGINS``).

``from_spec`` builds the backend; anything that must outlive it only for the backend's lifetime
(a server process) is entered on ``stack``, which :func:`open_backend` closes after the
backend's own ``close()``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

from nmframe.generation.base import Backend

_BACKENDS: dict[str, type] = {}
_BUILTIN_MODULES = ("nmframe.generation.hf_backend", "nmframe.generation.vllm_backend",
                    "nmframe.generation.openai_backend", "nmframe.generation.replay_backend")


class UnknownBackendError(ValueError):
    """A backend name that no module registered."""


def register_backend(name: str):
    """Class decorator: make ``cls`` the backend called ``name`` (a second class is an error)."""
    def wrap(cls):
        if not callable(getattr(cls, "from_spec", None)):
            raise TypeError(f"backend {name!r} ({cls.__qualname__}) must define from_spec(spec, stack, log_dir)")
        if name in _BACKENDS and _BACKENDS[name] is not cls:
            raise ValueError(f"backend name {name!r} is registered twice "
                             f"({_BACKENDS[name].__module__} and {cls.__module__})")
        _BACKENDS[name] = cls
        return cls
    return wrap


_LOADED: set[str] = set()  # modules already imported (a plan asks for a backend once per task)


def _load_builtins() -> None:
    plugins = [m.strip() for m in os.environ.get("NMFRAME_PLUGINS", "").split(",") if m.strip()]
    for mod in (*_BUILTIN_MODULES, *plugins):
        if mod not in _LOADED:
            importlib.import_module(mod)
            _LOADED.add(mod)


def registered_backends() -> list[str]:
    _load_builtins()
    return sorted(_BACKENDS)


def backend_class(name: str) -> type:
    _load_builtins()
    try:
        return _BACKENDS[name]
    except KeyError:
        raise UnknownBackendError(f"unknown generation backend {name!r}; registered backends: "
                                  f"{', '.join(sorted(_BACKENDS))}") from None


def teacher_is_gpt_oss(model: str) -> bool:
    """True when ``model`` counts tokens in the o200k/harmony vocabulary (a gpt-oss model)."""
    return "gpt-oss" in model.lower()


@dataclass(frozen=True)
class BackendSpec:
    """Everything any backend is built from; each backend reads the fields it needs."""
    backend: str                          # registered name: hf | vllm | openai | replay | ...
    model: str                            # path, hub id or builtin:<name>
    teacher_tokenizer: bool = False       # token counts in the o200k (gpt-oss) vocabulary
    batch_size: int = 64                  # hf: rows decoded together
    tensor_parallel_size: int = 1         # vllm, and the vllm serve of openai
    max_model_len: Optional[int] = None   # engine/server context (None: the model's own)
    gpu_memory_utilization: float = 0.9
    endpoint: Optional[str] = None        # openai: a running server (None: start `vllm serve` here)
    max_concurrency: int = 64             # openai: requests in flight
    max_retries: int = 5
    request_timeout_s: float = 7200.0
    retry_backoff_s: float = 1.0
    retry_backoff_max_s: float = 60.0
    api_key_env: Optional[str] = None     # environment variable holding the endpoint's API key
    server_port: Optional[int] = None     # port of the local vllm serve (None: a free one)
    server_start_timeout_s: float = 1800.0
    server_args: tuple[str, ...] = ()     # extra `vllm serve` arguments

    @classmethod
    def from_teacher(cls, cfg) -> "BackendSpec":
        """The teacher's backend: ``cfg.teacher`` plus the engine settings of ``cfg.generate``."""
        teacher, gen = cfg.teacher, cfg.generate
        model = str(teacher.model)
        return cls(backend=_name(teacher.backend), model=model, teacher_tokenizer=teacher_is_gpt_oss(model),
                   batch_size=int(gen.batch_size), tensor_parallel_size=int(teacher.tensor_parallel_size),
                   max_model_len=_opt_int(gen.max_model_len),
                   gpu_memory_utilization=float(gen.gpu_memory_utilization),
                   endpoint=teacher.endpoint or None, max_concurrency=int(teacher.max_concurrency),
                   max_retries=int(teacher.max_retries), request_timeout_s=float(gen.request_timeout_s),
                   retry_backoff_s=float(gen.retry_backoff_s), retry_backoff_max_s=float(gen.retry_backoff_max_s),
                   api_key_env=gen.api_key_env or None, server_port=_opt_int(gen.server_port),
                   server_start_timeout_s=float(gen.server_start_timeout_s),
                   server_args=tuple(str(a) for a in gen.server_args))

    def replace(self, **changes) -> "BackendSpec":
        return dataclasses.replace(self, **changes)

    @property
    def api_key(self) -> Optional[str]:
        return os.environ.get(self.api_key_env) if self.api_key_env else None


def _name(value) -> str:
    """A backend name from a config value (a plain string, or an Enum member's value)."""
    return str(getattr(value, "value", value))


def _opt_int(value) -> Optional[int]:
    return None if value is None else int(value)


@contextlib.contextmanager
def open_backend(spec: BackendSpec, log_dir: Optional[Path] = None) -> Iterator[Backend]:
    """The backend ``spec`` names, closed (and any server it started stopped) on exit.

    ``log_dir`` receives the logs of processes the backend starts (e.g. ``vllm-server.log``).
    """
    cls = backend_class(spec.backend)
    with contextlib.ExitStack() as stack:
        backend = cls.from_spec(spec, stack=stack, log_dir=Path(log_dir) if log_dir else None)
        stack.callback(backend.close)
        yield backend
