"""Reports of evaluation results: the paper's tables with its numbers beside ours, as Markdown,
CSV and one self-contained HTML page (plots embedded as base64 PNG).

    nmframe report <run dir | run name | experiment name> [--import file.jsonl --label name]

Pieces: :mod:`.manifest` (the paper's reference numbers per named experiment, from
experiments/), :mod:`.collect` (evaluate artifacts, bucket and stage-time data of a run;
imported external outputs), :mod:`.tables` (rows, differences, paired tests), :mod:`.plots`,
:mod:`.render`, :mod:`.command` (the CLI verb).
"""
from nmframe.report.collect import ReportData, collect_run, find_run, import_external
from nmframe.report.render import write_report

__all__ = ["ReportData", "collect_run", "find_run", "import_external", "write_report"]
