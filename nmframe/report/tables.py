"""The rows of the report: our numbers, the paper's, their difference; paired comparisons.

All numbers here are percentages (the metrics package works in fractions). A subset named like
its benchmark (``comp-math-24-25``) is all its problems pooled (``overall``).
"""
from __future__ import annotations

import itertools
from typing import Optional

from nmframe.evaluation.configs import ALL as CONFIG_ORDER
from nmframe.evaluation.configs import config_label
from nmframe.report.collect import EvalResult, ReportData
from nmframe.report.manifest import reference

SUBSET_NAMES = {"aime24": "AIME24", "aime25": "AIME25", "hmmt-24-25": "HMMT-24-25", "hle-math": "HLE-Math",
                "comp-math-24-25": "Comp-Math (all)"}


def pct(x) -> Optional[float]:
    return None if x is None else 100.0 * float(x)


def subsets_of(e: EvalResult) -> list[str]:
    subs = list(e.metrics.get("by_subset", {}))
    if len(subs) > 1 or e.benchmark not in subs:
        subs.append(e.benchmark)   # the pooled value
    return subs


def metric_block(e: EvalResult, subset: str) -> dict:
    return e.metrics["overall"] if subset == e.benchmark and subset not in e.metrics["by_subset"] \
        else e.metrics["by_subset"].get(subset, {})


def _order(data: ReportData):
    cfg_rank = {c: i for i, c in enumerate(CONFIG_ORDER)}
    var_rank = {v: i for i, v in enumerate(data.variants)}
    by_config = (data.manifest or {}).get("layout") == "by_config"

    def key(e: EvalResult):
        a, b = var_rank.get(e.variant, 99), cfg_rank.get(e.config, 99)
        return (e.benchmark, b, a) if by_config else (e.benchmark, a, b)
    return sorted(data.evals, key=key)


def result_rows(data: ReportData) -> list[dict]:
    rows = []
    for e in _order(data):
        k = max(e.ks)
        for s in subsets_of(e):
            m = metric_block(e, s)
            if not m:
                continue
            ci = m.get("pass@1_ci") or [None, None]
            ref_p, ref_m = reference(data.manifest, e.variant, e.config, s)
            p1, mj = pct(m.get("pass@1")), pct(m.get(f"maj@{k}"))
            rows.append({
                "variant": e.variant, "benchmark": e.benchmark, "config": e.config,
                "config_label": config_label(e.mode, e.tir), "subset": s, "subset_label": SUBSET_NAMES.get(s, s),
                "problems": m.get("problems"), "samples": m.get("samples"), "k": k,
                "pass@1": p1, "pass@1_se": pct(m.get("pass@1_se")), "pass@1_ci_lo": pct(ci[0]),
                "pass@1_ci_hi": pct(ci[1]), "maj@k": mj, "pass@k": pct(m.get(f"pass@{k}")) if k > 1 else None,
                "no_answer": pct(m.get("no_answer_rate")), "ungraded": pct(m.get("ungraded_rate")),
                "ungraded_samples": m.get("ungraded_samples"), "mean_tokens": m.get("mean_tokens"),
                "paper_pass@1": ref_p, "paper_maj@k": ref_m,
                "diff_pass@1": None if ref_p is None or p1 is None else p1 - ref_p,
                "diff_maj@k": None if ref_m is None or mj is None else mj - ref_m,
                "model": e.model, "tiny": e.tiny,
            })
    return rows


def comparison_pairs(data: ReportData) -> list[tuple[str, str]]:
    pairs = [tuple(p) for p in (data.manifest or {}).get("compare", []) if len(p) == 2]
    pairs = [p for p in pairs if p[0] in data.variants and p[1] in data.variants]
    if not pairs and 2 <= len(data.variants) <= 4:
        pairs = list(itertools.combinations(data.variants, 2))
    return pairs


def comparisons(data: ReportData) -> tuple[list[dict], list[str]]:
    """Paired tests B vs A per (benchmark, config, subset) on the problems both evaluated."""
    from nmframe.metrics import compare_runs

    out, notes = [], []
    index = {(e.variant, e.benchmark, e.config): e for e in data.evals}
    for a, b in comparison_pairs(data):
        for (va, bench, config), ea in index.items():
            if va != a or (b, bench, config) not in index:
                continue
            eb = index[(b, bench, config)]
            for s in subsets_of(ea):
                ra = [r for r in ea.records if s == bench or r.get("subset") == s]
                rb = [r for r in eb.records if s == bench or r.get("subset") == s]
                if not ra or not rb:
                    continue
                try:
                    c = compare_runs(ra, rb, alpha=data.alpha)
                except ValueError as exc:
                    notes.append(f"no paired test {a} vs {b} on {bench} {config} {s}: {exc}")
                    continue
                out.append({"a": a, "b": b, "benchmark": bench, "config": config,
                            "config_label": config_label(ea.mode, ea.tir), "subset": s,
                            "subset_label": SUBSET_NAMES.get(s, s), "problems": c.problems,
                            "pass@1_a": pct(c.mean_a), "pass@1_b": pct(c.mean_b), "diff": pct(c.diff),
                            "ci_lo": pct(c.ci[0]) if c.ci else None, "ci_hi": pct(c.ci[1]) if c.ci else None,
                            "p_permutation": c.p_permutation, "p_sign": c.p_sign, "b_better": c.b_better,
                            "a_better": c.a_better, "ties": c.ties, "significant": c.significant})
    return out, notes
