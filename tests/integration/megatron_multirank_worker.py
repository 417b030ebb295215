"""What every torchrun rank of tests/integration/test_megatron_multirank.py runs (world size 4, gloo).

One process group for the whole sequence, as three train_stage tasks would have it in three jobs:
stage ctx256 under its layout from the world-size-1 initial checkpoint, then the logits of its
checkpoint loaded under each of the three layouts, then ctx512 and ctx1k, each resuming the
previous stage's dist checkpoint under its own layout. Rank 0 writes ``result.json`` and the logits.

    torchrun --standalone --nproc-per-node=4 tests/integration/megatron_multirank_worker.py SPEC.json
"""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from omegaconf import OmegaConf

from nmframe.config.checks import check_parallel_layout
from nmframe.training.base import StageData
from nmframe.training.megatron_trainer import MegatronTrainer, checkpoint_logits, teardown


def main(spec_path: str) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    spec = json.loads(Path(spec_path).read_text())
    cfg = OmegaConf.create(spec["cfg"])
    root = Path(spec["root"])
    batch = torch.load(root / "logits_batch.pt", weights_only=False)
    out: dict = {"stages": {}}
    init = Path(spec["init_checkpoint"])
    for i, st in enumerate(spec["stages"]):
        layout = check_parallel_layout(cfg, st["name"])
        sd = StageData(**{**st, "sft_dir": Path(st["sft_dir"]), "pack_dir": Path(st["pack_dir"])})
        ckpt = root / f"ws4_{st['name']}"
        result = MegatronTrainer().train_stage(sd, init, ckpt, layout, cfg)
        out["stages"][st["name"]] = {"losses": result.losses, "placement": result.extra["placement"]}
        if i == 0:  # the first stage's checkpoint under every stage's layout
            for other in spec["stages"]:
                logits = checkpoint_logits(cfg, check_parallel_layout(cfg, other["name"]), ckpt, batch)
                if dist.get_rank() == 0:
                    torch.save(logits, root / f"logits_{st['name']}_under_{other['name']}.pt")
        init = ckpt
    if dist.get_rank() == 0:
        (root / "result.json").write_text(json.dumps(out, indent=2))
    teardown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
