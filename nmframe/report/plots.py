"""The report's figures as PNG bytes (matplotlib's Agg canvas: no display, no global state)."""
from __future__ import annotations

import io
from typing import Optional

from nmframe.benchmarks import get_benchmark
from nmframe.report.collect import ReportData
from nmframe.report.manifest import reference
from nmframe.report.tables import metric_block

MODES = ("high", "medium", "low")


def _png(fig) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def _figure(w: float, h: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(w, h))


def paper_pooled(data: ReportData, variant: str, config: str, benchmark: str) -> Optional[float]:
    """The paper's pass@1 over all of a benchmark's problems (subsets weighted by problem count)."""
    direct = reference(data.manifest, variant, config, benchmark)[0]
    if direct is not None:
        return direct
    try:
        counts = get_benchmark(benchmark).expected_problems
    except KeyError:
        return None
    vals = [(reference(data.manifest, variant, config, s)[0], n) for s, n in counts.items()]
    if not vals or any(v is None for v, _ in vals):
        return None
    return sum(v * n for v, n in vals) / sum(n for _, n in vals)


def accuracy_by_mode(data: ReportData) -> Optional[bytes]:
    """pass@1 (all problems of the first benchmark) by mode, TIR vs no TIR, one panel per variant;
    the paper's value as a black tick where it is known."""
    if not data.evals:
        return None
    bench = data.evals[0].benchmark
    variants = [v for v in data.variants if any(e.variant == v and e.benchmark == bench for e in data.evals)]
    fig = _figure(3.6 * max(1, len(variants)), 3.2)
    axes = fig.subplots(1, max(1, len(variants)), squeeze=False)[0]
    for ax, v in zip(axes, variants):
        for j, tir in enumerate((False, True)):
            xs, ys, es, refs = [], [], [], []
            for i, mode in enumerate(MODES):
                e = next((e for e in data.evals if e.variant == v and e.benchmark == bench and e.mode == mode
                          and e.tir == tir), None)
                if e is None:
                    continue
                m = metric_block(e, bench)
                xs.append(i + (j - 0.5) * 0.38)
                ys.append(100 * (m.get("pass@1") or 0))
                es.append(100 * (m.get("pass@1_se") or 0))
                refs.append(paper_pooled(data, v, e.config, bench))
            if xs:
                ax.bar(xs, ys, width=0.36, yerr=es, capsize=3, label="TIR" if tir else "no TIR",
                       color="#4C72B0" if tir else "#DD8452")
                rx = [x for x, r in zip(xs, refs) if r is not None]
                if rx:
                    ax.scatter(rx, [r for r in refs if r is not None], marker="_", s=300, color="black",
                               label="paper" if j == 1 or not any(e.tir for e in data.evals) else None, zorder=3)
        ax.set_xticks(range(len(MODES)), MODES)
        ax.set_ylim(0, 100)
        ax.set_title(v, fontsize=10)
        ax.set_ylabel(f"pass@1 (%), {bench}")
        ax.legend(fontsize=7, loc="upper right")
    fig.suptitle("accuracy by reasoning mode x Python tool (bars: ours ± SE)", fontsize=10)
    return _png(fig)


def traces_per_bucket(data: ReportData) -> Optional[bytes]:
    if not data.buckets:
        return None
    variants = list(dict.fromkeys(b["variant"] for b in data.buckets))
    fig = _figure(max(4.0, 2.2 * len(variants) + 2), 3.0)
    ax = fig.subplots()
    width = 0.8 / len(variants)
    for j, v in enumerate(variants):
        rows = [b for b in data.buckets if b["variant"] == v]
        ax.bar([i + j * width for i in range(len(rows))], [b["traces"] for b in rows], width=width, label=v)
        ax.set_xticks([i + (len(variants) - 1) * width / 2 for i in range(len(rows))],
                      [f"{b['stage']}\n<= {b['max_len']:,}" for b in rows], fontsize=8)
    ax.set_ylabel("traces")
    ax.set_title("traces per length bucket (bucketize)", fontsize=10)
    ax.legend(fontsize=7)
    return _png(fig)


def stage_times(data: ReportData) -> Optional[bytes]:
    rows = [s for s in data.stage_times if s["measured_s"] is not None]
    if not rows:
        return None
    fig = _figure(max(4.0, 1.2 * len(rows) + 2), 3.0)
    ax = fig.subplots()
    labels = [f"{s['stage']}" + (f"\n{s['variant']}" if len({r['variant'] for r in rows}) > 1 else "") for s in rows]
    xs = range(len(rows))
    ax.bar([x - 0.2 for x in xs], [s["measured_s"] for s in rows], width=0.4, label="measured (mean step)")
    ax.bar([x + 0.2 for x in xs], [s["predicted_s"] or 0 for s in rows], width=0.4, label="cost model")
    ax.set_xticks(list(xs), labels, fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("seconds per optimizer step")
    ax.set_title("predicted vs measured stage step time", fontsize=10)
    ax.legend(fontsize=7)
    return _png(fig)


def all_plots(data: ReportData) -> dict[str, bytes]:
    out = {}
    for name, fn in (("accuracy_by_mode.png", accuracy_by_mode), ("traces_per_bucket.png", traces_per_bucket),
                     ("stage_times.png", stage_times)):
        png = fn(data)
        if png:
            out[name] = png
    return out
