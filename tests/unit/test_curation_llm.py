"""The curation LLM through the generation backends: the tiny `hf` teacher on CPU (noise
replies), a `module:factory` callable, and `none`."""
from __future__ import annotations

import pytest

from nmframe.config import compose
from nmframe.curation.classify import decide_categories
from nmframe.curation.llm import llm_slice, open_llm


def fixed_reply_factory(cfg):
    return lambda prompt: "Judgement: no" if "Consider" in prompt else (_ for _ in ()).throw(RuntimeError("down"))


@pytest.mark.slow
def test_hf_tiny_teacher_replies_are_no_decision_not_labels():
    cfg = compose(["teacher=tiny", "prep.max_tokens=6", "prep.batch_size=2"])
    assert llm_slice(cfg, cfg.prep.backend) == {"backend": "teacher", "model": "builtin:tiny", "kind": "hf", "reasoning_effort": "low",
                              "max_tokens": 6, "temperature": 0.0}
    with open_llm(cfg, cfg.prep.backend) as llm:
        replies = llm.ask(["Say yes.", "Say no.", "Say maybe."])
        assert len(replies) == 3 and all(isinstance(r.text, str) and r.error is None for r in replies)
        stats = {}
        d = decide_categories(["Consider the map $f$."], llm, replies=stats)[0]
    assert d.decided_by == "none" and d.reason.startswith("no decision: unreadable reply for invalid")
    assert stats == {f"{c}: unreadable": 1 for c in ("invalid", "multiple_choice", "proof", "yes_no")}


def test_callable_backend_and_failed_calls():
    cfg = compose([f"prep.backend={__name__}:fixed_reply_factory"])
    assert llm_slice(cfg, cfg.prep.backend) == {"backend": f"{__name__}:fixed_reply_factory"}
    with open_llm(cfg, cfg.prep.backend) as llm:
        ds = decide_categories(["Consider the map $f$.", "Let $g$ be given."], llm)
    assert (ds[0].decided_by, ds[0].value, ds[0].reason) == ("llm", "ok", "llm: no category")
    assert ds[1].decided_by == "none" and "error: RuntimeError: down" in ds[1].reason


def test_backend_none():
    cfg = compose(["prep.backend=none"])
    with open_llm(cfg, cfg.prep.backend) as llm:
        assert llm is None
    assert llm_slice(cfg, "none") == {"backend": "none"} and llm_slice(cfg, None) is None
    with pytest.raises(ValueError, match="an LLM backend is 'teacher', 'judge_llm', 'none' or 'module:factory'"), \
            open_llm(cfg, "nonsense"):
        pass
