"""Chained fan-out: a task may take the task its own step built just before as an input."""
import pytest
from omegaconf import OmegaConf

from nmframe.config import compose
from nmframe.engine import Step, TaskSpec, register_step
from nmframe.engine.dag import PREVIOUS_TASK, DagBuilder, DagError, build_dag

from tests.helpers import base_overrides


@register_step
class ChainProbe(Step):
    """One task per entry of ``sizes``, each after the one before."""
    name = "test_chain_probe"
    VERSION = "1"

    def tasks(self, cfg, dag):
        return [TaskSpec(params={"i": i}, inputs={"previous": PREVIOUS_TASK} if i else {})
                for i in range(len(cfg.sizes))]

    def config_slice(self, cfg, params):
        return {"size": cfg.sizes[params["i"]]}


@register_step
class BadChain(Step):
    name = "test_chain_bad_first"
    VERSION = "1"

    def tasks(self, cfg, dag):
        return [TaskSpec(params={"i": 0}, inputs={"previous": PREVIOUS_TASK})]


def _chain(sizes):
    return DagBuilder(OmegaConf.create({"sizes": sizes})).add_step("test_chain_probe")


def test_each_task_takes_the_one_before():
    t = _chain([1, 2, 3])
    assert "previous" not in t[0].inputs
    assert t[1].inputs["previous"] == t[0].key and t[2].inputs["previous"] == t[1].key
    assert t[2].deps and t[1].key in t[2].deps


def test_a_change_reaches_later_tasks_only():
    base, first, last = _chain([1, 2, 3]), _chain([9, 2, 3]), _chain([1, 2, 9])
    assert all(a.key != b.key for a, b in zip(base, first))            # stage 1 changed: every later key too
    assert [a.key == b.key for a, b in zip(base, last)] == [True, True, False]


def test_first_task_cannot_ask_for_a_previous_one():
    with pytest.raises(DagError, match="first task of step 'test_chain_bad_first' .*'previous'.*there is none"):
        DagBuilder(OmegaConf.create({})).add_step("test_chain_bad_first")


def _train_stage_keys(tmp_path, *extra):
    steps = "pipeline.steps=[ingest,generate,prepare_sft,bucketize,pack,train_stage]"
    cfg = compose(base_overrides(tmp_path, "model=qwen3_30b_a3b", "buckets=paper", "trainer=megatron", steps,
                                 "sft.input_step=generate", *extra))
    return [t for t in build_dag(cfg).tasks if t.step == "train_stage"]


def test_train_stage_chains_stage_keys(tmp_path):
    base = _train_stage_keys(tmp_path)
    assert [t.params["stage"] for t in base] == ["ctx16k", "ctx32k", "ctx64k", "ctx128k"]
    assert [t.inputs.get("previous") for t in base] == [None, base[0].key, base[1].key, base[2].key]
    # micro batch size is part of a stage's layout only: no other step reads it
    first = _train_stage_keys(tmp_path, "parallelism.stages.ctx16k.micro_batch_size=2")
    last = _train_stage_keys(tmp_path, "parallelism.stages.ctx128k.micro_batch_size=2")
    assert [a.key == b.key for a, b in zip(base, first)] == [False, False, False, False]
    assert [a.key == b.key for a, b in zip(base, last)] == [True, True, True, False]
