"""Benchmarks by name. A second registration of a name is an error, never a silent override."""
from __future__ import annotations

_BENCHMARKS: dict[str, type] = {}


def register_benchmark(cls):
    name = getattr(cls, "name", "")
    if not name:
        raise TypeError(f"{cls.__name__} must set a class attribute `name`")
    if not getattr(cls, "VERSION", ""):
        raise TypeError(f"benchmark {name!r} must set a class attribute `VERSION`")
    if name in _BENCHMARKS and _BENCHMARKS[name] is not cls:
        raise ValueError(f"benchmark name {name!r} is registered twice "
                         f"({_BENCHMARKS[name].__module__}.{_BENCHMARKS[name].__name__} and "
                         f"{cls.__module__}.{cls.__name__})")
    _BENCHMARKS[name] = cls
    return cls


# The built-ins are registered by nmframe/benchmarks/__init__.py, which Python runs before this
# module is imported: the registry never needs to import its own package.
def get_benchmark(name: str):
    try:
        return _BENCHMARKS[str(name)]()
    except KeyError:
        raise KeyError(f"unknown benchmark {name!r}; known: {', '.join(sorted(_BENCHMARKS))}") from None


def list_benchmarks() -> list[str]:
    return sorted(_BENCHMARKS)
