"""Resume a killed stream from the last finished part.

A part is a run of whole row groups of one input file (at least ``checkpoint_rows`` rows, or the
rest of the file). Its output files are written under a ``.tmp`` name, renamed when the part is
complete, and only then is the part recorded in ``progress.json`` (itself replaced atomically
after an fsync). On start, parts recorded there are skipped, and any output file not recorded
there (a part that was cut off) is deleted, so a kill at any moment leaves either a finished,
recorded part or nothing of it.

The progress file also records the input files (path, size, mtime): if they changed, the old
progress does not apply and the stream starts over.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

FORMAT = 1


def _inputs(files: list[Path]) -> list[list]:
    out = []
    for f in files:
        st = f.stat()
        out.append([str(f), st.st_size, st.st_mtime_ns])
    return out


class Progress:
    """The checkpoint of one stream in its scratch directory."""

    def __init__(self, scratch: Path, files: list[Path], settings_key: str, log=None):
        self.dir = Path(scratch)
        self.path = self.dir / "progress.json"
        self.inputs = _inputs(files)
        self.settings_key = settings_key
        self.parts: dict[str, dict] = {}
        self.resumed = 0
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            try:
                state = json.loads(self.path.read_text())
            except ValueError:
                state = None
            if (state and state.get("format") == FORMAT and state.get("inputs") == self.inputs
                    and state.get("settings") == settings_key):
                self.parts = state["parts"]
                self.resumed = len(self.parts)
            elif log is not None:
                log.warning("stream: checkpoint at %s is for other inputs or settings; starting over", self.path)
        if not self.parts:
            shutil.rmtree(self.dir / "parts", ignore_errors=True)
        self._sweep()

    def _sweep(self) -> None:
        """Delete output files no recorded part owns (left by a part that was cut off)."""
        owned = {o["file"] for p in self.parts.values() for o in p["outputs"].values()}
        root = self.dir / "parts"
        if not root.exists():
            return
        for f in root.rglob("*"):
            if f.is_file() and str(f.relative_to(self.dir)) not in owned:
                f.unlink()

    @staticmethod
    def part_id(file_index: int, rg_start: int) -> str:
        return f"{file_index:05d}-{rg_start:06d}"

    def done(self, part_id: str) -> bool:
        return part_id in self.parts

    def record(self, part_id: str, entry: dict) -> None:
        self.parts[part_id] = entry
        state = {"format": FORMAT, "inputs": self.inputs, "settings": self.settings_key, "parts": self.parts}
        tmp = self.path.with_suffix(".json.tmp")
        with open(tmp, "w") as f:
            json.dump(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def clear(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
