"""Read tensors of a ``megatron.core.dist_checkpointing`` directory without building the model.

Why not load into a GPTModel: exporting must work in a plain process (no ``torch.distributed``
group, no Megatron parallel state, no CUDA) and for models larger than the memory of one node's
CPU when held whole. The checkpoint is a ``torch.distributed.checkpoint`` (DCP) directory whose
tensors carry their *global* shapes whatever TP / EP / PP layout saved them (each rank wrote its
own region); the per-layer weights of the decoder are stacked along a leading layer axis
(``decoder.layers.<name>`` of shape ``[num_layers, ...]``). :meth:`DistCheckpoint.read` reads
any region (``layer=i`` for one layer's slice) through DCP's resharding reads, so only the bytes
asked for are loaded.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch


class CheckpointError(RuntimeError):
    """The directory is not a readable Megatron dist checkpoint, or lacks a tensor the export needs."""


def _region_planner(regions: dict[str, tuple[tuple[int, ...], tuple[int, ...]]]):
    """A DCP load planner reading ``regions[key] = (offsets, sizes)`` of each key's global tensor."""
    from torch.distributed.checkpoint import DefaultLoadPlanner, LoadPlan
    from torch.distributed.checkpoint.metadata import ChunkStorageMetadata
    from torch.distributed.checkpoint.planner_helpers import (
        create_read_items_for_chunk_list,
    )

    class RegionPlanner(DefaultLoadPlanner):
        def create_local_plan(self) -> LoadPlan:
            items = []
            for key in self.state_dict:
                offsets, sizes = regions[key]
                chunk = ChunkStorageMetadata(offsets=torch.Size(offsets), sizes=torch.Size(sizes))
                items.extend(create_read_items_for_chunk_list(key, self.metadata.state_dict_metadata[key], [chunk]))
            return LoadPlan(items)

        def lookup_tensor(self, index):  # a plain tensor holding exactly the requested region
            return self.state_dict[index.fqn]

    return RegionPlanner()


class DistCheckpoint:
    """Global tensor metadata of a dist checkpoint, and reads of whole tensors or one layer's slice."""

    def __init__(self, path: Path):
        from torch.distributed.checkpoint import FileSystemReader
        from torch.distributed.checkpoint.metadata import TensorStorageMetadata

        self.path = Path(path)
        meta = self.path / "metadata.json"
        if not meta.is_file() or not (self.path / ".metadata").is_file():
            raise CheckpointError(f"{self.path} is not a megatron.core dist checkpoint (no metadata.json / .metadata)")
        backend = json.loads(meta.read_text()).get("sharded_backend")
        if backend != "torch_dist":
            raise CheckpointError(f"{self.path}: sharded backend {backend!r} is not supported (expected torch_dist)")
        self._reader_cls = FileSystemReader
        md = FileSystemReader(str(self.path)).read_metadata()
        self.tensors = {k: v for k, v in md.state_dict_metadata.items() if isinstance(v, TensorStorageMetadata)}

    def __contains__(self, key: str) -> bool:
        return key in self.tensors

    def shape(self, key: str) -> tuple[int, ...]:
        return tuple(self._meta(key).size)

    def dtype(self, key: str) -> torch.dtype:
        return self._meta(key).properties.dtype

    def _meta(self, key: str):
        if key not in self.tensors:
            model_keys = sorted(k for k in self.tensors if not k.startswith("optimizer"))
            raise CheckpointError(f"{self.path} has no tensor {key!r}; model tensors present: {model_keys}")
        return self.tensors[key]

    def read(self, keys: list[str], layer: int | None = None) -> dict[str, torch.Tensor]:
        """The named tensors (layer-stacked keys: only layer ``layer``, without the layer axis)."""
        from torch.distributed.checkpoint import load

        regions, out = {}, {}
        for key in keys:
            shape = self.shape(key)
            if layer is None:
                offsets, sizes = (0,) * len(shape), shape
            else:
                if not 0 <= layer < shape[0]:
                    raise CheckpointError(f"{key}: layer {layer} out of range (checkpoint has {shape[0]} layers)")
                offsets, sizes = (layer,) + (0,) * (len(shape) - 1), (1,) + shape[1:]
            regions[key] = (offsets, sizes)
            out[key] = torch.empty(sizes, dtype=self.dtype(key))
        load(out, storage_reader=self._reader_cls(str(self.path)), planner=_region_planner(regions), no_dist=True)
        return {k: (v[0] if layer is not None else v) for k, v in out.items()}
