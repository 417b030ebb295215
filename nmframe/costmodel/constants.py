"""Cost-model constants on disk: the shipped, paper-calibrated set and cluster profiles.

Why a file: the efficiency constants are measured facts about one cluster (how far its GEMMs,
attention and links fall short of peak, what each packed document costs), not code. The
package ships ``constants/paper_h100.yaml``, fitted to the paper's Table 7 (arXiv:2512.15489)
by ``python bench/bench_costmodel.py --write``; ``nmframe calibrate`` writes a profile of the
same shape from a run's measured step times, and ``costmodel.profile=<path>`` makes the
planner use it.

File shape::

    name: paper_h100
    hardware: {name: H100-SXM, peak_flops: 9.89e+14, nvlink_bw: 4.5e+11, network_bw: 5.0e+10,
               gpus_per_node: 8, dp_overlap: 0.9}
    efficiency: {linear: 0.056, attention: 1.0, comm: 5.41, doc_overhead: 0.038}
    fit: {...}   # how it was fitted: points, residuals (informational)
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from nmframe.errors import ConfigError

from .model import H100, Efficiency, Hardware

#: The packaged constants a plan uses when no profile is given.
DEFAULT_CONSTANTS = "paper_h100"
CONSTANTS_DIR = Path(__file__).parent / "constants"


@dataclass(frozen=True)
class Constants:
    """One set of cost-model constants: the hardware and the fitted efficiencies."""

    name: str
    hardware: Hardware = H100
    efficiency: Efficiency = Efficiency()
    fit: dict = field(default_factory=dict)
    source: str = ""

    def to_dict(self) -> dict:
        return {"name": self.name, "hardware": asdict(self.hardware), "efficiency": asdict(self.efficiency),
                "fit": self.fit}


def _numbers(section: dict, cls, where: str, key: str):
    allowed = set(cls.__dataclass_fields__)
    unknown = sorted(set(section) - allowed)
    if unknown:
        raise ConfigError(f"{where}: {key}.{unknown[0]}", section[unknown[0]], "unknown key",
                          allowed=", ".join(sorted(allowed)))
    out = {}
    for k, v in section.items():
        default = cls.__dataclass_fields__[k].default
        try:
            out[k] = type(default)(v) if not isinstance(default, str) else str(v)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: {key}.{k}", v, "must be a number") from None
    return cls(**out)


def load_constants(ref: str | Path | None = None) -> Constants:
    """Constants from a packaged name (``paper_h100``) or a YAML path (a profile written by
    ``nmframe calibrate``); None gives the packaged default. Bad input is one ConfigError that
    names the file and key."""
    ref = DEFAULT_CONSTANTS if ref is None or str(ref) == "" else ref
    path = Path(ref)
    if not path.suffix and not path.exists():
        path = CONSTANTS_DIR / f"{ref}.yaml"
    if not path.is_file():
        shipped = ", ".join(sorted(p.stem for p in CONSTANTS_DIR.glob("*.yaml")))
        raise ConfigError("costmodel.profile", str(ref), "no such constants file",
                          allowed=f"a path or one of: {shipped}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{line}", "", "not valid YAML") from None
    if not isinstance(data, dict) or not isinstance(data.get("efficiency"), dict):
        raise ConfigError(str(path), "", "needs an 'efficiency' mapping (linear, attention, comm, doc_overhead)")
    eff = _numbers(data["efficiency"], Efficiency, str(path), "efficiency")
    for k in ("linear", "attention"):
        if not 0 < getattr(eff, k) <= 1:
            raise ConfigError(f"{path}: efficiency.{k}", getattr(eff, k), "must be in (0, 1]")
    hw = _numbers(data.get("hardware") or {}, Hardware, str(path), "hardware")
    return Constants(name=str(data.get("name") or path.stem), hardware=hw, efficiency=eff,
                     fit=dict(data.get("fit") or {}), source=str(path))


def write_constants(c: Constants, path: str | Path, header: str = "") -> Path:
    """Write ``c`` as YAML (a profile), with ``header`` as leading comment lines."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    comment = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(comment + yaml.safe_dump(c.to_dict(), sort_keys=False, default_flow_style=None), encoding="utf-8")
    tmp.replace(path)
    return path
