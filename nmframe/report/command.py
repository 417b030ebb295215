"""The `nmframe report` verb: find the run, collect, import external outputs, write the files.

Whatever goes wrong (a damaged record file, an empty run, an unreadable import) ends in one line
on stderr naming the run or file and why, never a traceback: a report is read by people who did
not write the code.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", nargs="?", help="a run directory, a run name, or an experiment name (its latest run)")
    p.add_argument("--outputs", type=Path, default=None,
                   help="the outputs folder (default: $NMFRAME_OUTPUTS, else <project root>/outputs)")
    p.add_argument("--out", type=Path, default=None, help="where to write the report (default: <run dir>/report)")
    p.add_argument("--import", dest="imports", action="append", default=[], type=Path, metavar="FILE",
                   help="external eval outputs (JSONL: problem_id, sample_index, predicted_answer, correct)")
    p.add_argument("--label", action="append", default=[], help="the name of each --import (same order)")
    p.add_argument("--import-config", default="high/notir", help="config of imported rows without mode/tir")
    p.add_argument("--import-benchmark", default="comp-math-24-25", help="benchmark of imported rows")
    p.add_argument("--no-plots", action="store_true")


def run(args, console) -> int:
    from nmframe.engine.runs import RunNotFound
    from nmframe.report.collect import ReportError

    try:
        return _report(args, console)
    except (RunNotFound, SystemExit, KeyboardInterrupt):
        raise
    except ReportError as exc:
        print(f"nmframe report: {exc}", file=sys.stderr)
    except Exception as exc:  # noqa: BLE001 - any failure is one line naming what was read, never a traceback
        what = args.target or ", ".join(str(f) for f in args.imports)
        first = (str(exc).splitlines() or [""])[0]
        print(f"nmframe report: cannot report {what}: {type(exc).__name__}: {first}", file=sys.stderr)
    return 1


def _report(args, console) -> int:
    from nmframe.report.collect import ReportData, collect_run, find_run, import_external, merge_scores
    from nmframe.report.render import write_report

    if not args.target and not args.imports:
        raise SystemExit("nmframe report: give a run / experiment, or --import FILE --label NAME")
    if args.label and len(args.label) != len(args.imports):
        raise SystemExit(f"nmframe report: {len(args.imports)} --import files but {len(args.label)} --label names")
    if args.target:
        from nmframe.config.project import default_outputs

        run_dir = find_run(args.target, args.outputs or default_outputs())
        data = collect_run(run_dir)
        out = args.out or run_dir / "report"
    else:
        data = ReportData(title="nmframe report: imported evaluations", source="imported")
        out = args.out or Path("report")
    imported = []
    for i, f in enumerate(args.imports):
        label = args.label[i] if args.label else Path(f).stem
        e = import_external(Path(f), label, benchmark=args.import_benchmark, config=args.import_config)
        imported.append(e)
        if label not in data.variants:
            data.variants.append(label)
    merge_scores(imported, data.alpha, data.vote, data.ties)
    data.evals.extend(imported)
    paths = write_report(data, out, plots=not args.no_plots)
    for kind, p in paths.items():
        console.print(f"{kind:>4}: {p}")
    if args.target and not data.evals:
        console.print(f"note: {data.source} has no evaluation results; the report lists what the run has",
                      markup=False, highlight=False)
    if data.tiny:
        console.print("note: tiny random-weight model: accuracy near zero is expected (the report says so)")
    return 0
