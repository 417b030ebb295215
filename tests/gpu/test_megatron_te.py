"""On a GPU: the megatron backend with Transformer Engine trains a tiny model stage to stage
through dist checkpoints, in bf16 and with FP8 (H100/H200). Losses and step times are printed
(run with -s) and written to $NMFRAME_GPU_REPORT when set."""
import json
import os

import numpy as np
import pytest

from nmframe.config import compose
from nmframe.config.checks import check_parallel_layout
from tests.helpers import make_data, make_stage

pytestmark = pytest.mark.gpu


@pytest.mark.parametrize("precision,recipe", [("bf16", "delayed"), ("fp8", "delayed"), ("fp8", "tensorwise")])
def test_te_stages_through_checkpoints(tmp_path, precision, recipe):
    pytest.importorskip("transformer_engine.pytorch")
    from nmframe.training.megatron_trainer import MegatronTrainer, te_available, teardown

    assert te_available()
    cfg = compose(["trainer=megatron", "trainer.nodes=1", "trainer.gpus_per_node=1", "trainer.global_batch_size=4",
                   f"trainer.precision={precision}", f"trainer.fp8_recipe={recipe}", "trainer.lr=3e-3"])
    layout = check_parallel_layout(cfg, "ctx512")
    data = make_data(tmp_path, n=16)
    results = []
    init = None
    for i, (name, cap) in enumerate([("ctx512", 512), ("ctx1k", 1024), ("ctx2k", 2048)]):
        out = tmp_path / f"ck{i}"
        r = MegatronTrainer().train_stage(make_stage(tmp_path, data, cap, name, i, epochs=2.0, seed=i), init, out,
                                          layout, cfg)
        assert r.extra["transformer_engine"] is True and (out / ".metadata").exists()
        assert np.isfinite(r.losses).all()
        results.append({"stage": name, "losses": r.losses, "step_times": r.step_times})
        init = out
    teardown()
    first, last = np.mean(results[0]["losses"][:2]), np.mean(results[-1]["losses"][-2:])
    assert last < first - 0.05
    report = {"precision": precision, "fp8_recipe": recipe if precision == "fp8" else None, "stages": results}
    print(json.dumps(report))
    if os.environ.get("NMFRAME_GPU_REPORT"):
        with open(os.environ["NMFRAME_GPU_REPORT"], "a") as f:
            f.write(json.dumps(report) + "\n")
