"""Entry point of every torchrun rank of a megatron training stage.

``python -m torch.distributed.run ... -m nmframe.training.megatron_entry --spec SPEC.json``; the
train_stage step writes the spec (stage data paths, packing settings, layout, resolved config,
checkpoint paths) and reads back ``<out_checkpoint>/result.json`` (losses, step times, tokens),
written by rank 0 after the stage's checkpoint is saved.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from omegaconf import OmegaConf

from nmframe.training.base import StageData


def load_spec(path: Path) -> tuple[StageData, Path | None, Path, dict, object]:
    spec = json.loads(Path(path).read_text())
    st = dict(spec["stage"])
    for k in ("sft_dir", "pack_dir", "scratch_dir"):
        if st.get(k) is not None:
            st[k] = Path(st[k])
    init = Path(spec["init_checkpoint"]) if spec.get("init_checkpoint") else None
    return StageData(**st), init, Path(spec["out_checkpoint"]), spec["layout"], OmegaConf.create(spec["cfg"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spec", required=True, help="stage spec JSON written by the train_stage step")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    import torch.distributed as dist

    from nmframe.training.megatron_trainer import MegatronTrainer, teardown

    sd, init, out, layout, cfg = load_spec(Path(args.spec))
    log = logging.getLogger("nmframe.megatron")
    sd.on_step = lambda m: log.info("stage %s step %d: loss %.4f (%.2fs)", sd.name, m["step"], m["loss"],
                                    m["step_time_s"])
    result = MegatronTrainer().train_stage(sd, init, out, layout, cfg)
    if dist.get_rank() == 0:
        (out / "result.json").write_text(json.dumps(result.to_dict(), indent=2))
    teardown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
