"""Compact on-disk format of rendered SFT traces, written once and memory-mapped by every stage.

Millions of traces of up to 128K tokens do not fit in memory as Python lists, and every
bucket, pack and train task reads a subset of them. An SFT artifact therefore holds flat arrays
read with ``numpy.memmap``:

* ``tokens.bin``: int32 token ids of all traces, concatenated;
* ``loss_mask.bin``: uint8, 1 where the token is a training target, same length;
* ``offsets.npy``: int64 ``[n + 1]``; trace ``i`` is ``tokens[offsets[i]:offsets[i + 1]]``;
* ``index.parquet``: one row per trace: ``problem_id``, ``mode``, ``tir``, ``seed``,
  ``length``, ``loss_tokens``;
* ``format.json``: the dtypes and counts above (``FORMAT_VERSION``).

The writer streams (appends per trace), so memory stays flat however large the input.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

FORMAT_VERSION = 1
TOKEN_DTYPE = np.int32
MASK_DTYPE = np.uint8
INDEX_COLUMNS = ("problem_id", "mode", "tir", "seed", "length", "loss_tokens")


class SftWriter:
    """Append rendered traces to an SFT directory; :meth:`close` writes the offsets and index."""

    def __init__(self, out_dir: Path):
        self.dir = Path(out_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._tok = open(self.dir / "tokens.bin", "wb")
        self._mask = open(self.dir / "loss_mask.bin", "wb")
        self._offsets = [0]
        self._rows: dict[str, list] = {c: [] for c in INDEX_COLUMNS}

    def append(self, ids: np.ndarray, mask: np.ndarray, meta: dict) -> None:
        ids = np.ascontiguousarray(ids, dtype=TOKEN_DTYPE)
        mask = np.ascontiguousarray(mask, dtype=MASK_DTYPE)
        if ids.shape != mask.shape or ids.ndim != 1:
            raise ValueError(f"ids {ids.shape} and mask {mask.shape} must be equal 1-D shapes")
        self._tok.write(ids.tobytes())
        self._mask.write(mask.tobytes())
        self._offsets.append(self._offsets[-1] + int(ids.size))
        self._rows["problem_id"].append(str(meta["problem_id"]))
        self._rows["mode"].append(str(meta["mode"]))
        self._rows["tir"].append(bool(meta["tir"]))
        self._rows["seed"].append(int(meta.get("seed", -1)))
        self._rows["length"].append(int(ids.size))
        self._rows["loss_tokens"].append(int(mask.sum()))

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def close(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._tok.close()
        self._mask.close()
        np.save(self.dir / "offsets.npy", np.asarray(self._offsets, dtype=np.int64))
        table = pa.table({
            "problem_id": pa.array(self._rows["problem_id"], pa.string()),
            "mode": pa.array(self._rows["mode"], pa.string()),
            "tir": pa.array(self._rows["tir"], pa.bool_()),
            "seed": pa.array(self._rows["seed"], pa.int64()),
            "length": pa.array(self._rows["length"], pa.int32()),
            "loss_tokens": pa.array(self._rows["loss_tokens"], pa.int32()),
        })
        pq.write_table(table, self.dir / "index.parquet")
        (self.dir / "format.json").write_text(json.dumps({
            "format_version": FORMAT_VERSION, "token_dtype": "int32", "mask_dtype": "uint8",
            "traces": len(self), "tokens": int(self._offsets[-1]),
        }, indent=2) + "\n")


class SftData:
    """Read-only view of an SFT directory (memory-mapped arrays + index columns as numpy)."""

    def __init__(self, path: Path):
        self.dir = Path(path)
        fmt_path = self.dir / "format.json"
        if not fmt_path.exists():
            raise FileNotFoundError(f"{self.dir} is not an SFT data directory (no format.json)")
        fmt = json.loads(fmt_path.read_text())
        if fmt.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{self.dir}: SFT format {fmt.get('format_version')} (this code reads {FORMAT_VERSION})")
        self.offsets = np.load(self.dir / "offsets.npy")
        n_tok = int(self.offsets[-1])
        self.tokens = (np.memmap(self.dir / "tokens.bin", dtype=TOKEN_DTYPE, mode="r", shape=(n_tok,))
                       if n_tok else np.zeros(0, TOKEN_DTYPE))
        self.loss_mask = (np.memmap(self.dir / "loss_mask.bin", dtype=MASK_DTYPE, mode="r", shape=(n_tok,))
                          if n_tok else np.zeros(0, MASK_DTYPE))
        self._index = None

    def __len__(self) -> int:
        return int(self.offsets.size - 1)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets).astype(np.int64)

    @property
    def index(self) -> dict[str, np.ndarray]:
        if self._index is None:
            import pyarrow.parquet as pq

            t = pq.read_table(self.dir / "index.parquet")
            self._index = {c: t.column(c).to_numpy(zero_copy_only=False) for c in t.column_names}
        return self._index

    def sample(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        return np.asarray(self.tokens[a:b]), np.asarray(self.loss_mask[a:b])
