"""Full-scale streaming of released-format rows (nvidia/Nemotron-Math-v2): validate, filter,
count tokens, bucket and pack millions of traces with bounded memory.

Loading 7.5M traces into memory is not an option on a modest machine, so every stage works on
record batches read from Parquet row groups and writes its output incrementally:

* :mod:`.released`: the released schema (required columns, reasoning mode of a split's file,
  TIR from ``tools``) and per-batch validation;
* :mod:`.rowfilter`: the answer and pass-rate filters from ``metadata``, decided by
  :mod:`nmframe.curation.trivial` once per distinct count combination;
* :mod:`.tokens`: trace lengths from a length column, or counted with the student tokenizer in
  worker processes;
* :mod:`.checkpoint`: resume after a kill from the last finished part (whole row groups);
* :mod:`.summary`: counts per data source x mode x TIR x bucket and per drop reason;
* :mod:`.runner`: the loop that ties them together (:func:`run_stream`), used by the
  ``stream_released`` step and ``bench/bench_stream.py``.
"""
from .released import StreamSchemaError, mode_of_path
from .runner import StreamSettings, run_stream

__all__ = ["StreamSchemaError", "StreamSettings", "mode_of_path", "run_stream"]
