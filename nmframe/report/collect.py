"""Gather what a report shows: evaluate results per sweep point, bucket counts, stage times.

A run directory (outputs/runs/<id>) lists its tasks, the sweep point(s) each belongs to and the
artifact store; results are read from the finished artifacts. Sweep points become *variants*:
named by the experiment manifest when one matches (e.g. ``source.name: aops`` -> "AoPS"),
else by the overrides that differ between points. Tasks that did not finish are listed in the
report's notes, never silently left out.
"""
from __future__ import annotations

import collections
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from omegaconf import OmegaConf

from nmframe.report.manifest import find_manifest


@dataclass
class EvalResult:
    variant: str
    benchmark: str
    mode: str
    tir: bool
    records: list[dict]
    ks: tuple[int, ...]
    tiny: bool = False
    model: str = ""
    metrics: dict = field(default_factory=dict)   # score(): overall + by_subset
    files: list[str] = field(default_factory=list)  # where the records came from (for error messages)

    @property
    def config(self) -> str:
        return f"{self.mode}/{'tir' if self.tir else 'notir'}"


@dataclass
class ReportData:
    title: str
    source: str                     # the run directory (or "imported")
    experiment: str = ""            # cfg.name of the run
    manifest: Optional[dict] = None
    variants: list[str] = field(default_factory=list)
    evals: list[EvalResult] = field(default_factory=list)
    buckets: list[dict] = field(default_factory=list)       # {variant, stage, max_len, traces, tokens}
    stage_times: list[dict] = field(default_factory=list)   # {variant, stage, steps, measured_s, predicted_s}
    notes: list[str] = field(default_factory=list)
    tiny: bool = False
    replay_teacher: bool = False    # the traces came from the replay teacher (scripted, not sampled)
    alpha: float = 0.05
    vote: str = "equivalence"   # maj@k convention (metrics.vote / metrics.ties of the run)
    ties: str = "first"


class ReportError(ValueError):
    """A run or file a report cannot be made from; the message names it (one line for the CLI)."""


def _read_json(path: Path, what: str):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{path}: missing ({what})") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: unreadable JSON ({what}: {exc})") from None


def read_records(path: Path) -> list[dict]:
    """The rows of an evaluate artifact's records.jsonl; a bad line is an error naming file:line."""
    from nmframe.datafiles import iter_rows

    recs = []
    try:
        for n, row, error in iter_rows(path, "jsonl"):
            if error:
                raise ReportError(f"{path}:{n}: {error}")
            recs.append(row)
    except FileNotFoundError:
        raise ReportError(f"{path}: missing (the evaluate artifact has scores.json but no records)") from None
    return recs


def find_run(target: str, outputs: Path) -> Path:
    """A run directory from a path, a run name under outputs/runs, or an experiment name (its
    latest run): the engine's one run lookup."""
    from nmframe.engine.runs import find_run as find_run_dir

    return find_run_dir(target, Path(outputs) / "runs").path


def _flat(cfg) -> dict:
    out = {}

    def walk(node, prefix):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{prefix}{k}.")
        else:
            out[prefix[:-1]] = node
    walk(OmegaConf.to_container(cfg, resolve=True), "")
    return out


def _same(a, b) -> bool:
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


def manifest_variant(cfg, manifest: Optional[dict]) -> Optional[str]:
    """The first of the manifest's named variants whose settings all match ``cfg``, or None."""
    for name, match in (manifest or {}).get("variants", {}).items():
        if all(_same(OmegaConf.select(cfg, k), v) for k, v in (match or {}).items()):
            return name
    return None


def differing_overrides(cfgs: list, overrides: list[list[str]]) -> list[str]:
    """Each point's label from the overrides whose values differ between the points
    (``trainer.lr=1e-4``, ``source=aops_se``). A key that is a config value is compared resolved
    (1e-4 and 0.0001 are one value); a group choice (``source=aops``) by its override."""
    flats = [_flat(c) for c in cfgs]
    given = [dict(o.split("=", 1) for o in ov if "=" in o) for ov in overrides]
    keys = list(dict.fromkeys(k for g in given for k in g))

    def value(i: int, key: str):
        bare = key.lstrip("+~")
        return flats[i][bare] if bare in flats[i] else given[i].get(key)

    differ = [k for k in keys if not all(_same(value(0, k), value(i, k)) for i in range(1, len(cfgs)))]
    return [" ".join(f"{k}={given[i][k]}" for k in differ if k in given[i]) or f"point {i}"
            for i in range(len(cfgs))]


def variant_labels(cfgs: list, overrides: list[list[str]], manifest: Optional[dict]) -> list[str]:
    """One distinct label per sweep point: the manifest's variant name where exactly one point
    matches it, else the overrides that differ between the points. Two points never share a
    label (their records would be pooled as if they were one model's)."""
    named = [manifest_variant(c, manifest) for c in cfgs]
    if len(cfgs) == 1:
        return [named[0] or "run"]
    derived = differing_overrides(cfgs, overrides)
    uses = collections.Counter(named)
    labels = [n if n is not None and uses[n] == 1 else d for n, d in zip(named, derived)]
    clash = collections.Counter(labels)
    return [f"{lab} (point {i})" if clash[lab] > 1 else lab for i, lab in enumerate(labels)]


def merge_scores(evals: list[EvalResult], alpha: float, vote: str = "equivalence", ties: str = "first") -> None:
    from nmframe.evaluation.scoring import score

    for e in evals:
        try:
            e.metrics = (score(e.records, ks=e.ks, alpha=alpha, vote=vote, ties=ties) if e.records
                         else {"overall": {}, "by_subset": {}})
        except ValueError as exc:
            where = ", ".join(e.files) or f"variant {e.variant!r}"
            raise ReportError(f"{where}: {e.benchmark} {e.config}: {exc}") from None


def collect_run(run_dir: Path) -> ReportData:
    from nmframe.engine.runs import RunDir

    rd = RunDir(Path(run_dir))
    info = rd.info()
    tasks = _read_json(rd.path / "tasks.json", "the run's task list")
    states = rd.states()
    point_files = sorted((rd.path / "points").glob("*.yaml"))
    cfgs = []
    for p in point_files:
        try:
            cfgs.append(OmegaConf.load(p))
        except Exception as exc:  # noqa: BLE001 - YAML and OmegaConf errors alike: name the file
            raise ReportError(f"{p}: unreadable sweep point ({type(exc).__name__}: {(str(exc).splitlines() or [''])[0]})") from None
    if not cfgs or not tasks:
        raise ReportError(f"run {rd.path}: empty (no {'sweep points' if not cfgs else 'tasks'}): nothing to report")
    overrides = [o if isinstance(o, list) else str(o).split() for o in info.get("overrides", [[]] * len(cfgs))]
    name = str(cfgs[0].name) if cfgs else ""
    manifest = find_manifest(name)
    labels = variant_labels(cfgs, overrides, manifest)
    artifacts = Path(info.get("artifacts") or cfgs[0].paths.artifacts)
    from nmframe.evaluation.scoring import maj_convention

    alpha = float(cfgs[0].evaluate.alpha) if cfgs else 0.05
    data = ReportData(title=(manifest or {}).get("title") or f"nmframe report: {name or rd.path.name}",
                      source=str(rd.path), experiment=name, manifest=manifest,
                      variants=list(dict.fromkeys(labels)), alpha=alpha,
                      **maj_convention(cfgs[0] if cfgs else None))
    groups: dict[tuple, EvalResult] = {}
    by_step = collections.defaultdict(list)
    for key, entry in tasks.items():
        by_step[entry["task"]["step"]].append((key, entry))
    for key, entry in sorted(by_step.get("evaluate", []), key=lambda kv: json.dumps(kv[1]["task"]["params"], sort_keys=True)):
        t = entry["task"]
        art = artifacts / "evaluate" / key
        scores = art / "scores.json"
        if not scores.is_file():
            data.notes.append(f"evaluate task {key} ({t['params']}) has no result "
                              f"(state: {states.get(key, {}).get('state', 'unknown')})")
            continue
        meta = _read_json(scores, "the evaluate summary")
        recs = read_records(art / "records.jsonl")
        try:
            tiny, model = bool(meta["model"]["tiny"]), meta["model"]["label"]
        except (KeyError, TypeError):
            raise ReportError(f"{scores}: no model.tiny / model.label (not an evaluate summary)") from None
        for pi in entry.get("points") or [0]:
            p = t["params"]
            gk = (labels[pi], p["benchmark"], p["mode"], bool(p["tir"]))
            if gk not in groups:
                groups[gk] = EvalResult(labels[pi], p["benchmark"], p["mode"], bool(p["tir"]), [],
                                        tuple(meta.get("ks", [1])), tiny, model)
            groups[gk].records.extend(recs)
            groups[gk].files.append(str(art / "records.jsonl"))
    data.evals = list(groups.values())
    if not by_step.get("evaluate"):
        data.notes.append("this run has no evaluate task (pipeline.steps has no 'evaluate'): no accuracy to report")
    merge_scores(data.evals, alpha, data.vote, data.ties)
    data.tiny = any(e.tiny for e in data.evals) or any(bool(c.model.tiny) for c in cfgs if "evaluate" in c.pipeline.steps)
    data.replay_teacher = any(str(c.teacher.backend) == "replay" for c in cfgs if "generate" in c.pipeline.steps)
    _buckets(data, by_step, artifacts, labels)
    _stage_times(data, by_step, artifacts, labels, cfgs, tasks)
    _training_notes(data, by_step, artifacts, cfgs)
    return data


def _buckets(data, by_step, artifacts, labels) -> None:
    seen = set()
    for key, entry in by_step.get("bucketize", []):
        f = artifacts / "bucketize" / key / "stages.json"
        if not f.is_file():
            continue
        for pi in entry.get("points") or [0]:
            if (labels[pi], key) in seen:
                continue
            seen.add((labels[pi], key))
            for s in json.loads(f.read_text()):
                data.buckets.append({"variant": labels[pi], "stage": s["name"], "max_len": s["max_len"],
                                     "traces": s["traces"], "tokens": s.get("tokens")})


def _stage_times(data, by_step, artifacts, labels, cfgs, tasks) -> None:
    from nmframe.engine.registry import get_step

    step = None
    for key, entry in sorted(by_step.get("train_stage", []), key=lambda kv: kv[1]["task"]["params"].get("index", 0)):
        art = artifacts / "train_stage" / key
        losses = art / "losses.json"
        if not losses.is_file():
            continue
        res = json.loads(losses.read_text())
        times = res.get("step_times") or []
        measured = sum(times) / len(times) if times else None
        pi = (entry.get("points") or [0])[0]
        cfg = cfgs[pi]
        params = entry["task"]["params"]
        predicted, why = None, ""
        try:
            step = step or get_step("train_stage")
            lengths = None
            sft_key = entry["task"]["inputs"].get("prepare_sft")
            if sft_key and (artifacts / "prepare_sft" / sft_key).is_dir():
                from nmframe.sft.store import SftData

                lengths = SftData(artifacts / "prepare_sft" / sft_key).lengths
            est = step.estimate(cfg, params, lengths)
            predicted = est.get("step_time_s")
        except Exception as exc:  # noqa: BLE001 - a missing prediction is a note, not a failed report
            why = f"{type(exc).__name__}: {exc}"
        data.stage_times.append({"variant": labels[pi], "stage": params.get("stage"), "index": params.get("index"),
                                 "steps": res.get("steps"), "measured_s": measured, "predicted_s": predicted,
                                 "final_loss": (res.get("losses") or [None])[-1], "prediction_error": why,
                                 "backend": str(cfg.trainer.backend)})


def _training_notes(data, by_step, artifacts, cfgs) -> None:
    for cfg in cfgs[:1]:
        if "prepare_sft" in cfg.pipeline.steps and str(cfg.sft.input_step) != "filter_correct":
            kept = ""
            for key, _ in by_step.get("filter_correct", []):
                f = artifacts / "filter_correct" / key / "report.json"
                if f.is_file():
                    rep = json.loads(f.read_text())
                    kept = f" (filter_correct kept {rep.get('kept')} of {rep.get('total')} traces)"
            data.notes.append(f"training used every trace of step '{cfg.sft.input_step}' (sft.input_step), "
                              f"not only the traces that reach the expected answer{kept}: the recipe trains on "
                              "filter_correct's traces; this run does not")


def import_external(path: Path, label: str, benchmark: str = "comp-math-24-25", config: str = "high/notir",
                    samples: Optional[int] = None) -> EvalResult:
    """Evaluation outputs made elsewhere: JSONL rows with ``problem_id``, ``sample_index``,
    ``predicted_answer`` and ``correct`` (true / false / null = ungraded) or ``outcome``;
    optional ``subset``, ``benchmark``, ``mode``, ``tir``, ``tokens``. A row's subset defaults
    to the one the benchmark file gives its problem id."""
    from nmframe.evaluation.configs import parse_configs

    default = parse_configs([config])[0]
    subsets = {}
    if benchmark == "comp-math-24-25":
        from nmframe.datafiles import PKG_DATA

        with open(PKG_DATA / "benchmarks" / "comp-math-24-25.jsonl", encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                subsets[str(r["id"])] = r["subset_for_metrics"]
    recs = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except ValueError as exc:
                raise ValueError(f"{path}:{n}: unreadable JSON ({exc})") from exc
            for k in ("problem_id", "sample_index"):
                if r.get(k) is None:
                    raise ValueError(f"{path}:{n}: no {k!r}")
            if "outcome" in r:
                outcome = r["outcome"]
            elif "correct" in r:
                outcome = {True: "correct", False: "wrong", None: "ungraded"}.get(r["correct"])
            else:
                raise ValueError(f"{path}:{n}: no 'correct' or 'outcome'")
            if outcome not in ("correct", "wrong", "ungraded"):
                raise ValueError(f"{path}:{n}: correctness {r.get('correct', r.get('outcome'))!r} is not "
                                 "true/false/null or correct/wrong/ungraded")
            pid = str(r["problem_id"])
            subset = r.get("subset") or subsets.get(pid) or benchmark
            mode = r.get("mode", default.mode)
            tir = bool(r.get("tir", default.tir))
            recs.append({"problem_id": pid, "subset": subset, "sample_index": int(r["sample_index"]),
                         "predicted_answer": r.get("predicted_answer"), "outcome": outcome,
                         "tokens": r.get("tokens"), "mode": mode, "tir": tir,
                         "benchmark": r.get("benchmark", benchmark)})
    if not recs:
        raise ValueError(f"{path}: no rows")
    per = collections.Counter(r["problem_id"] for r in recs)
    n = samples or max(per.values())
    groups = collections.defaultdict(list)
    for r in recs:
        groups[(r["benchmark"], r["mode"], r["tir"])].append(r)
    if len(groups) != 1:
        raise ValueError(f"{path}: rows of several benchmarks/configs {sorted(groups)}: import one file per config")
    (bench, mode, tir), rows = next(iter(groups.items()))
    return EvalResult(label, bench, mode, tir, rows, (1, n) if n > 1 else (1,), False, f"imported: {path}",
                      files=[str(path)])
