"""SFT data: teacher traces rendered to token ids with loss masks, stored compactly, split into
the length-bucketed stages of the sequential schedule and scheduled into packed global batches.

* :mod:`.format` renders one trace (harmony or the student's chat template) to ids + loss mask;
* :mod:`.store` writes and memory-maps the token arrays and their index;
* :mod:`.tokenize` renders many traces over all cores;
* :mod:`.stages` assigns traces to bucket stages (with the final-stage mode mix) and lays out
  each stage's epochs as global batches packed into bins.
* :mod:`.stage_plan` is the typed list of bucket stages (length, parallel layout, padding) that
  every stage reader looks up;
* :mod:`.fill` moves short traces into the free space of long-stage bins when the cost model
  predicts a shorter schedule.
"""
from .format import SkipTrace, TraceRecord, render_trace, trace_record
from .store import SftData, SftWriter

__all__ = ["SkipTrace", "TraceRecord", "render_trace", "trace_record", "SftData", "SftWriter"]
