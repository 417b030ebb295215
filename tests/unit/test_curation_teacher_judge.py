"""The curation LLM questions can go to the run's own teacher through the generation backends."""
import pytest

from nmframe.config import compose
from nmframe.curation.llm import llm_slice, load_backend
from nmframe.curation.parse import parse_judgement


@pytest.mark.slow
def test_teacher_backend_answers_prompts_and_noise_is_no_judgement():
    cfg = compose(["experiment=quickstart", "teacher=tiny", "prep.max_tokens=8"])  # the tiny hf teacher: replies are noise
    ask = load_backend("teacher", cfg)
    reply = ask("Are 1/2 and 0.5 the same answer? End with 'Judgement: yes' or 'Judgement: no'.")
    assert isinstance(reply, str)
    assert parse_judgement(reply) is None  # random text is "no judgement", never "no"


def test_teacher_judge_enters_cache_keys():
    from nmframe.engine.dag import build_dag

    base = ["experiment=quickstart", "teacher=tiny", "pipeline.steps=[ingest,generate,validate_answers]"]
    keys = lambda *o: {t.step: t.key for t in build_dag(compose(base + list(o))).tasks}
    plain, judged = keys(), keys("answers.judge=teacher")
    assert plain["validate_answers"] != judged["validate_answers"]
    assert judged["validate_answers"] != keys("answers.judge=teacher", "prep.max_tokens=99")["validate_answers"]
    assert plain["generate"] == judged["generate"]
    assert llm_slice(compose(base), "teacher")["model"] == "builtin:tiny"
    assert llm_slice(None, "pkg.mod:make") == {"backend": "pkg.mod:make"}
