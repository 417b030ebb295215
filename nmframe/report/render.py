"""Markdown, CSV and one self-contained HTML page from the collected data.

The main table follows the paper's layout (rows: variant x config, or config x variant for
Table 5; columns: the benchmark's subsets): our pass@1 ± SE with maj@k in parentheses, the
paper's number and the difference in points. Details (CI, pass@k, no-answer, ungraded, mean
tokens), paired tests, bucket counts and stage times follow. A banner says when the evaluated
model is tiny / random: its near-zero accuracy is expected and measures nothing.
"""
from __future__ import annotations

import base64
import csv
import html
import io
from pathlib import Path

from nmframe.report.collect import ReportData
from nmframe.report.tables import comparisons, result_rows

TINY_BANNER = ("This run evaluates a tiny random-weight model (built locally with random weights, at most "
               "a few CPU optimizer steps on traces of {teacher}). Its accuracy is expected to be "
               "about zero "
               "and says nothing about the recipe; the numbers only show that every step ran end to end. "
               "The paper's numbers are for Qwen3-30B-A3B / Qwen3-8B students trained on gpt-oss-120b traces.")
RANDOM_TEACHER = "a random tiny teacher"
REPLAY_TEACHER = ("the replay teacher: scripted traces of the shipped sample problems whose Python calls ran in "
                  "the sandbox; their answers are written in advance, not found by a model")


def tiny_banner(data: ReportData) -> str:
    """The tiny-model banner, naming where the student's traces came from."""
    return TINY_BANNER.format(teacher=REPLAY_TEACHER if data.replay_teacher else RANDOM_TEACHER)


def _f(x, nd: int = 2) -> str:
    return "-" if x is None else f"{x:.{nd}f}"


def _g(x) -> str:
    return "-" if x is None else f"{x:.3g}"


def _signed(x) -> str:
    return "-" if x is None else f"{x:+.2f}"


def ours_cell(r: dict) -> str:
    s = _f(r["pass@1"])
    if r["pass@1_se"] is not None:
        s += f" ± {_f(r['pass@1_se'])}"
    if r["k"] > 1:
        s += f" ({_f(r['maj@k'])})"
    return s


def paper_cell(r: dict) -> str:
    if r["paper_pass@1"] is None:
        return "-"
    return _f(r["paper_pass@1"]) + (f" ({_f(r['paper_maj@k'])})" if r["paper_maj@k"] is not None else "")


def main_tables(rows: list[dict]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(benchmark, header, body) per benchmark, in the paper's layout."""
    out = []
    for bench in dict.fromkeys(r["benchmark"] for r in rows):
        rs = [r for r in rows if r["benchmark"] == bench]
        subsets = list(dict.fromkeys((r["subset"], r["subset_label"]) for r in rs))
        header = ["variant", "config"]
        for _, label in subsets:
            header += [f"{label} ours", f"{label} paper", "Δ"]
        body, index = [], {}
        for r in rs:
            key = (r["variant"], r["config"])
            if key not in index:
                index[key] = len(body)
                body.append([r["variant"], r["config_label"]] + ["-"] * (3 * len(subsets)))
            j = 2 + 3 * [s for s, _ in subsets].index(r["subset"])
            body[index[key]][j:j + 3] = [ours_cell(r), paper_cell(r), _signed(r["diff_pass@1"])]
        out.append((bench, header, body))
    return out


def _md_table(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in body]
    return "\n".join(lines)


DETAIL_HEADER = ["variant", "benchmark", "config", "subset", "problems", "samples", "pass@1", "SE",
                 "CI", "maj@k", "pass@k", "no answer %", "ungraded %", "mean tokens"]


def maj_note(data) -> str:
    """One sentence saying how maj@k voted (metrics.vote / metrics.ties)."""
    vote = ("answers voted as exact strings" if data.vote == "exact"
            else "equivalent answers voted together")
    ties = ("a tie scored the mean correctness of the tied answers" if data.ties == "average"
            else "a tie went to the answer seen first")
    return f"maj@k: {vote}; {ties} (metrics.vote={data.vote}, metrics.ties={data.ties})."


def detail_body(rows: list[dict], alpha: float) -> list[list[str]]:
    return [[r["variant"], r["benchmark"], r["config_label"], r["subset_label"], str(r["problems"]),
             str(r["samples"]), _f(r["pass@1"]), _f(r["pass@1_se"]),
             f"[{_f(r['pass@1_ci_lo'])}, {_f(r['pass@1_ci_hi'])}]" if r["pass@1_ci_lo"] is not None else "-",
             f"{_f(r['maj@k'])} (k={r['k']})" if r["k"] > 1 else "-", _f(r["pass@k"]),
             _f(r["no_answer"], 1), _f(r["ungraded"], 1), _f(r["mean_tokens"], 1)] for r in rows]


COMPARE_HEADER = ["A", "B", "benchmark", "config", "subset", "problems", "pass@1 A", "pass@1 B", "B - A",
                  "CI of B - A", "p (permutation)", "p (sign)", "significant"]


def compare_body(comps: list[dict]) -> list[list[str]]:
    return [[c["a"], c["b"], c["benchmark"], c["config_label"], c["subset_label"], str(c["problems"]),
             _f(c["pass@1_a"]), _f(c["pass@1_b"]), _signed(c["diff"]),
             f"[{_f(c['ci_lo'])}, {_f(c['ci_hi'])}]" if c["ci_lo"] is not None else "-",
             f"{c['p_permutation']:.3g}", f"{c['p_sign']:.3g}", "yes" if c["significant"] else "no"]
            for c in comps]


def sections(data: ReportData) -> dict:
    rows = result_rows(data)
    comps, comp_notes = comparisons(data)
    return {"rows": rows, "comparisons": comps, "notes": list(data.notes) + comp_notes,
            "main": main_tables(rows)}


def to_markdown(data: ReportData, s: dict, images: dict[str, str] | None = None) -> str:
    m = data.manifest or {}
    out = [f"# {data.title}", ""]
    if data.tiny:
        out += [f"> **Tiny model.** {tiny_banner(data)}", ""]
    if m.get("description"):
        out += [m["description"].strip(), ""]
    if m.get("paper"):
        out += [f"Paper settings: {m['paper'].strip()}", ""]
    if m.get("run"):
        out += [f"Reproduce: `{m['run']}`", ""]
    out += [f"Variants: {', '.join(data.variants) or '-'}. Cells: pass@1 ± SE (maj@k), in %; paper: the "
            f"paper's pass@1 (maj@k); Δ: ours - paper in points. {maj_note(data)}", ""]
    for bench, header, body in s["main"]:
        out += [f"## {bench}", "", _md_table(header, body), ""]
    if not s["rows"]:
        out += ["No evaluation results yet.", ""]
    else:
        alpha = data.alpha
        out += [f"## Details ({100 * (1 - alpha):.0f}% bootstrap CI over problems)", "",
                _md_table(DETAIL_HEADER, detail_body(s["rows"], alpha)), ""]
    if s["comparisons"]:
        out += [f"## Paired comparisons (per-problem accuracy, alpha = {data.alpha})", "",
                _md_table(COMPARE_HEADER, compare_body(s["comparisons"])), ""]
    if data.buckets:
        out += ["## Traces per length bucket", "",
                _md_table(["variant", "stage", "max length", "traces", "tokens"],
                          [[b["variant"], b["stage"], f"{b['max_len']:,}", f"{b['traces']:,}",
                            f"{b['tokens']:,}" if b.get("tokens") is not None else "-"] for b in data.buckets]), ""]
    if data.stage_times:
        out += ["## Stage step times: cost model vs measured", "",
                _md_table(["variant", "stage", "backend", "steps", "measured s/step", "predicted s/step", "final loss"],
                          [[t["variant"], str(t["stage"]), t["backend"], str(t["steps"]), _g(t["measured_s"]),
                            _g(t["predicted_s"]) if t["predicted_s"] is not None else
                            f"- ({t['prediction_error'][:60]})" if t["prediction_error"] else "-",
                            _f(t["final_loss"], 4)] for t in data.stage_times]), ""]
        if any(t["backend"] != "megatron" for t in data.stage_times):
            out += ["The cost model predicts GPU step times (Megatron on H100-class GPUs); a CPU run's measured "
                    "times are not comparable with it.", ""]
    for name, src in (images or {}).items():
        out += [f"![{name}]({src})", ""]
    if s["notes"]:
        out += ["## Notes", ""] + [f"- {n}" for n in s["notes"]] + [""]
    out += [f"Source: {m.get('source', 'arXiv:2512.15489')}" if m else "Source: nmframe evaluate artifacts", ""]
    return "\n".join(out)


CSV_FIELDS = ["variant", "benchmark", "config", "subset", "problems", "samples", "k", "pass@1", "pass@1_se",
              "pass@1_ci_lo", "pass@1_ci_hi", "maj@k", "pass@k", "no_answer", "ungraded", "ungraded_samples",
              "mean_tokens", "paper_pass@1", "paper_maj@k", "diff_pass@1", "diff_maj@k", "model", "tiny"]


def to_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in r.items()})
    return buf.getvalue()


def _html_table(header, body) -> str:
    h = "".join(f"<th>{html.escape(str(c))}</th>" for c in header)
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in body)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{rows}</tbody></table>"


CSS = """body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#222;max-width:1400px}
table{border-collapse:collapse;margin:8px 0 20px;font-size:13px}th,td{border:1px solid #ccc;padding:3px 7px;
text-align:right}th{background:#f2f2f2}td:first-child,td:nth-child(2){text-align:left}
.banner{background:#fff3cd;border:1px solid #e0b000;padding:10px 14px;margin:12px 0;border-radius:4px}
.notes li{margin:3px 0}code{background:#f4f4f4;padding:1px 4px}img{max-width:100%;margin:6px 0}"""


def to_html(data: ReportData, s: dict, plots: dict[str, bytes]) -> str:
    m = data.manifest or {}
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(data.title)}</title>"
             f"<style>{CSS}</style></head><body><h1>{html.escape(data.title)}</h1>"]
    if data.tiny:
        parts.append(f"<div class='banner'><b>Tiny model.</b> {html.escape(tiny_banner(data))}</div>")
    for key, label in (("description", ""), ("paper", "Paper settings: ")):
        if m.get(key):
            parts.append(f"<p>{label}{html.escape(m[key].strip())}</p>")
    if m.get("run"):
        parts.append(f"<p>Reproduce: <code>{html.escape(m['run'])}</code></p>")
    parts.append("<p>Cells: pass@1 ± SE (maj@k) in %; paper: the paper's pass@1 (maj@k); Δ: ours - paper. "
                 f"{html.escape(maj_note(data))}</p>")
    for bench, header, body in s["main"]:
        parts.append(f"<h2>{html.escape(bench)}</h2>" + _html_table(header, body))
    if s["rows"]:
        parts.append(f"<h2>Details ({100 * (1 - data.alpha):.0f}% CI)</h2>"
                     + _html_table(DETAIL_HEADER, detail_body(s["rows"], data.alpha)))
    if s["comparisons"]:
        parts.append("<h2>Paired comparisons</h2>" + _html_table(COMPARE_HEADER, compare_body(s["comparisons"])))
    for name, png in plots.items():
        parts.append(f"<h3>{html.escape(name[:-4].replace('_', ' '))}</h3>"
                     f"<img alt='{html.escape(name)}' src='data:image/png;base64,{base64.b64encode(png).decode()}'>")
    if data.stage_times:
        parts.append("<h2>Stage step times</h2>" + _html_table(
            ["variant", "stage", "backend", "steps", "measured s/step", "predicted s/step"],
            [[t["variant"], t["stage"], t["backend"], t["steps"], _g(t["measured_s"]), _g(t["predicted_s"])]
             for t in data.stage_times]))
    if s["notes"]:
        parts.append("<h2>Notes</h2><ul class='notes'>" + "".join(f"<li>{html.escape(n)}</li>" for n in s["notes"])
                     + "</ul>")
    parts.append(f"<p><small>source: {html.escape(data.source)}</small></p></body></html>")
    return "".join(parts)


def write_report(data: ReportData, out_dir: Path, plots: bool = True) -> dict[str, Path]:
    """report.md, report.csv, report.html (+ the PNGs the Markdown links to) in ``out_dir``."""
    from nmframe.report.plots import all_plots

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    s = sections(data)
    pngs = all_plots(data) if plots else {}
    for name, png in pngs.items():
        (out_dir / name).write_bytes(png)
    paths = {"md": out_dir / "report.md", "csv": out_dir / "report.csv", "html": out_dir / "report.html"}
    paths["md"].write_text(to_markdown(data, s, {n: n for n in pngs}))
    paths["csv"].write_text(to_csv(s["rows"]))
    paths["html"].write_text(to_html(data, s, pngs))
    return paths
