"""import_traces: SFT traces from other datasets' files (and this run's own traces) -> one traces
artifact for prepare_sft, drawn as a configured *arm* of a data comparison.

Why a step: the paper's Table 3 trains the same student on Nemotron-Math traces, on
OpenMathReasoning traces and on a half/half mix, on the same matched problems and the same number
of examples. The traces that nmframe did not generate have to come in from files, be converted to
nmframe's trace records, restricted to the shared problems and mixed to exact sizes; prepare_sft
then reads this step's ``traces.jsonl`` like filter_correct's (``sft.input_step: import_traces``).

Config (``sft``, see :class:`nmframe.config.sections.SftConfig`):

* ``import_files``: labelled sources, each ``{label, path | step, schema, mode, include_modes,
  include_tir}``; ``path`` is a file, folder or glob of JSONL/Parquet rows in one of the shapes of
  :mod:`nmframe.sft.external` (released Nemotron-Math-v2 rows, OpenMathReasoning rows, generic
  chat rows, nmframe traces); ``step`` takes every artifact of an earlier step of the run.
* ``arms``: ``{arm: {label: fraction}}`` and ``arm``: the one this run writes. An arm is the
  traces prepare_sft trains on: ``{nemotron: 1.0}``, ``{omr: 1.0}``, ``{nemotron: 0.5, omr: 0.5}``.
  Sweep arms with ``-m sft.arm=nemotron,omr,mixed``: everything upstream runs once.
* ``import_max_examples`` (the arm's total; its fractions split it exactly), ``import_seed``,
  ``import_match_problems`` (every source restricted to the problems all sources have).

Sources whose traces are not harmony text (``omr``, ``chat``) need ``sft.template=chat``: the plan
stops otherwise (and the run checks rows that ``auto`` detected as such).

Output: ``traces.jsonl`` (records with ``source_label`` and ``origin`` file:line) and
``report.json``: per source rows / converted / filtered / malformed by reason with file:line
examples, problems per label and matched, the sizes drawn, traces per mode x TIR.
"""
from __future__ import annotations

import os
from pathlib import Path

from omegaconf import OmegaConf

from nmframe.config.checks import ConfigError
from nmframe.datafiles import fingerprint, resolve
from nmframe.engine import Resources, Step, StepContext, TaskSpec, register_step
from nmframe.progress import track
from nmframe.sft.external import (
    CHAT_ONLY,
    MODES,
    SCHEMAS,
    ImportTracesError,
    Source,
    build,
    check_fractions,
)
from nmframe.steps.prepare_sft import trace_files


def _specs(cfg) -> list[dict]:
    return [OmegaConf.to_container(s, resolve=True) if OmegaConf.is_config(s) else dict(s)
            for s in cfg.sft.import_files]


def check_specs(cfg) -> list[dict]:
    """The sources, checked; raises ConfigError (shown before anything runs) with what to change."""
    specs = _specs(cfg)
    if not specs:
        raise ConfigError("sft.import_files", [], "import_traces needs its sources: [{label, path | step, schema}]")
    for i, s in enumerate(specs):
        where = f"sft.import_files[{i}]"
        if not s.get("label"):
            raise ConfigError(f"{where}.label", s.get("label"), "needs a label (the name the arms' mixes use)")
        if bool(s.get("path")) == bool(s.get("step")):
            raise ConfigError(where, s, "give exactly one of path (files) or step (an earlier step)")
        if s.get("schema", "auto") not in SCHEMAS:
            raise ConfigError(f"{where}.schema", s.get("schema"), "unknown schema", allowed=", ".join(SCHEMAS))
        for m in [s.get("mode")] * (s.get("mode") is not None) + list(s.get("include_modes") or []):
            if m not in MODES:
                raise ConfigError(f"{where}.mode", m, "unknown mode", allowed=", ".join(MODES))
    return specs


def arm_mix(cfg, specs: list[dict]) -> dict | None:
    """The fractions of ``sft.arm`` (None: every trace of every source)."""
    arm = cfg.sft.arm
    labels = list(dict.fromkeys(s["label"] for s in specs))
    if arm in (None, ""):
        if cfg.sft.import_max_examples is not None:
            raise ConfigError("sft.import_max_examples", cfg.sft.import_max_examples,
                              "needs an arm: set sft.arm (one of sft.arms) to say how to split it")
        return None
    arms = OmegaConf.to_container(cfg.sft.arms, resolve=True) if OmegaConf.is_config(cfg.sft.arms) else dict(cfg.sft.arms)
    if arm not in arms:
        raise ConfigError("sft.arm", arm, "not an arm of sft.arms", allowed=", ".join(arms) or "none defined")
    try:
        return check_fractions(arms[arm], labels)
    except ImportTracesError as exc:
        raise ConfigError(f"sft.arms.{arm}", arms[arm], str(exc)) from None


def check_template(cfg, specs: list[dict], mix: dict | None) -> None:
    if str(cfg.sft.template) == "chat":
        return
    used = [s for s in specs if mix is None or s["label"] in mix]
    chat_only = [f"{s['label']} (schema {s['schema']})" for s in used if s.get("schema") in CHAT_ONLY]
    if chat_only:
        raise ConfigError("sft.template", str(cfg.sft.template), f"the traces of {', '.join(chat_only)} are not "
                          "harmony text; train them with sft.template=chat")


def source_paths(spec: dict) -> list[Path]:
    return [p for p in resolve(str(spec["path"])) if p.suffix in (".jsonl", ".json", ".parquet")]


@register_step
class ImportTraces(Step):
    name = "import_traces"
    VERSION = "1"
    description = "SFT traces from other datasets' files (released, OpenMathReasoning, chat) mixed into an arm"
    slice_paths = ("sft.arm", "sft.import_max_examples", "sft.import_match_problems", "sft.import_seed")
    extra_reads = ("sft.import_files", "sft.arms", "sft.template")

    def tasks(self, cfg, dag):
        specs = check_specs(cfg)
        mix = arm_mix(cfg, specs)
        check_template(cfg, specs, mix)
        inputs = {}
        for i, s in enumerate(specs):
            if s.get("step"):
                ups = dag.all(str(s["step"]))
                if not ups:
                    raise ConfigError(f"sft.import_files[{i}].step", s["step"], "that step has no tasks in this run")
                inputs.update({f"src{i:02d}_{j:04d}": t for j, t in enumerate(ups)})
        return [TaskSpec(params={}, inputs=inputs)]

    def input_files(self, cfg, params):
        return [(f"sft.import_files[{i}].path", str(s["path"])) for i, s in enumerate(_specs(cfg)) if s.get("path")]

    def config_slice(self, cfg, params):
        """Keyed by the files' contents (not their locations), the arm's own fractions (adding an
        arm changes no other arm's key) and the draw's settings."""
        out = super().config_slice(cfg, params)
        specs = _specs(cfg)
        for s in specs:
            if s.get("path"):
                paths = source_paths(s)
                s["files"] = ([[str(p.relative_to(Path(os.path.commonpath([str(q.parent) for q in paths])))),
                                fingerprint(p)] for p in paths] if paths else f"MISSING: {s['path']}")
                s.pop("path")
        out["sources"] = specs
        try:
            out["mix"] = arm_mix(cfg, check_specs(cfg))
        except ConfigError as exc:  # tasks() reports it when planning
            out["mix"] = f"INVALID: {exc}"
        return out

    def resources(self, cfg, params):
        return Resources(cpus=1, time_min=240, mem_gb=16)

    def run(self, ctx: StepContext) -> None:
        cfg = ctx.cfg
        specs = check_specs(cfg)
        mix = arm_mix(cfg, specs)
        sources = []
        for i, s in enumerate(specs):
            if s.get("path"):
                files = source_paths(s)
                if not files:
                    raise ImportTracesError(f"sft.import_files[{i}] ({s['label']}): no JSONL/Parquet files at "
                                            f"{s['path']} (point it, or paths.data, at the data)")
            else:
                files = [f for name in sorted(ctx.inputs) if name.startswith(f"src{i:02d}_")
                         for f in trace_files(ctx.inputs[name])]
            sources.append(Source(label=s["label"], files=files, schema=s.get("schema", "auto"), mode=s.get("mode"),
                                  include_modes=tuple(s.get("include_modes") or ()),
                                  include_tir=s.get("include_tir")))
        report = build(sources, ctx.out_dir / "traces.jsonl", mix=mix,
                       total=cfg.sft.import_max_examples, seed=int(cfg.sft.import_seed),
                       match=bool(cfg.sft.import_match_problems),
                       track=lambda it, desc, total=None: track(it, desc, total))
        report["arm"] = cfg.sft.arm
        ctx.write_json("report.json", report)
        for src in report["sources"]:
            ctx.log.info("import %s: %d rows -> %d traces (%d filtered %s, %d malformed %s)", src["label"],
                         src["rows"], src["converted"], sum(src["filtered"].values()), src["filtered"],
                         sum(src["malformed"].values()), src["malformed"])
            for ex in src["malformed_examples"]:
                ctx.log.warning("malformed row: %s", ex)
        m = report["match"]
        if m["applied"]:
            ctx.log.info("matched problems: %d (per label: %s); traces on them: %s", m["matched_problems"],
                         m["problems_per_label"], m["traces_on_matched"])
        elif m["enabled"]:
            ctx.log.warning("sft.import_match_problems: only one label, nothing to match against")
        ctx.log.info("arm %s: %s", cfg.sft.arm, report["written"])
        if report["chat_only_traces"] and str(cfg.sft.template) != "chat":
            raise ImportTracesError(f"{report['chat_only_traces']} imported traces are not harmony text (omr/chat rows) "
                                    f"but sft.template={cfg.sft.template}; train them with sft.template=chat")
        if report["traces"] == 0:
            raise ImportTracesError(f"no traces imported: {report['malformed']} malformed, {report['filtered']} "
                                    f"filtered rows (see report.json)")
        ctx.log_metrics({"traces": report["traces"], "problems": report["problems"],
                         "malformed": report["malformed"], "filtered": report["filtered"],
                         **({"matched_problems": m["matched_problems"]} if m["applied"] else {}),
                         **{f"written/{k}": v for k, v in report["written"].items()}})
