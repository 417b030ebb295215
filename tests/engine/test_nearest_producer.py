"""Steps find their problems by what earlier steps produce (DagBuilder.nearest), not by lists of names;
retired step names and methods say what replaces them."""
import pytest

from nmframe.cli import main
from nmframe.config import ConfigError, compose
from nmframe.engine.dag import DagBuilder, DagError, build_dag
from nmframe.engine.registry import UnknownStepError, get_step

RAW = ["source=stackexchange_raw", "paths.data=/nonexistent"]


def problem_inputs(overrides: list[str], base: tuple[str, ...] = ("experiment=quickstart",)) -> dict[str, str]:
    """step -> the step whose task feeds its ``problems`` input (the quickstart reads the shipped
    samples whatever the source, so raw-dump pipelines are built on the defaults)."""
    dag = build_dag(compose([*base, *overrides]))
    step_of = {t.key: t.step for t in dag.tasks}
    return {t.step: step_of[t.inputs["problems"]] for t in dag.tasks if "problems" in t.inputs}


def test_pipeline_from_ingest_chains_every_filter():
    got = problem_inputs(["pipeline.steps=[ingest,classify,decontaminate,generate,validate_answers,"
                          "filter_trivial,filter_correct]"])
    assert got == {"classify": "ingest", "decontaminate": "classify", "generate": "decontaminate",
                   "validate_answers": "decontaminate", "filter_trivial": "validate_answers",
                   "filter_correct": "filter_trivial"}


def test_pipeline_from_raw_dumps_and_filters_left_out():
    got = problem_inputs([*RAW, "pipeline.steps=[extract_problems,extract_answers,decontaminate,generate]"], base=())
    assert got == {"extract_answers": "extract_problems", "decontaminate": "extract_answers",
                   "generate": "decontaminate"}
    # no filter at all: generation samples the extracted problems
    assert problem_inputs([*RAW, "pipeline.steps=[extract_problems,generate]"], base=())["generate"] == \
        "extract_problems"


def test_nearest_is_in_pipeline_order_not_a_preference_list():
    # decontaminate before classify: classify reads decontaminate's output, and generate classify's
    got = problem_inputs(["pipeline.steps=[ingest,decontaminate,classify,generate]"])
    assert (got["decontaminate"], got["classify"], got["generate"]) == ("ingest", "decontaminate", "classify")


def test_samples_are_not_problems():
    builder = DagBuilder(compose(["experiment=quickstart", "pipeline.steps=[ingest,generate]"]))
    builder.add_step("ingest")
    builder.add_step("generate")
    assert builder.nearest("problems", before="validate_answers").step == "ingest"
    assert get_step("generate").produces == "samples"


def test_missing_producer_is_one_clear_line():
    builder = DagBuilder(compose(["experiment=quickstart", "pipeline.steps=[classify]"]))
    with pytest.raises(DagError) as exc:
        builder.nearest("problems", before="classify")
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith("step 'classify' needs problems from an earlier step (")
    assert "ingest" in msg and "extract_problems" in msg and "steps so far: none" in msg


def test_missing_producer_through_the_cli(capsys):
    assert main(["plan", "experiment=quickstart", "pipeline.steps=[classify,decontaminate]"]) == 2
    err = capsys.readouterr().err
    assert "cannot plan" in err and "step 'classify' needs problems from an earlier step" in err


def test_retired_step_names_say_what_replaces_them(capsys):
    with pytest.raises(UnknownStepError,
                       match="'prep_classify' was replaced by classify with filters.classify_method=rules_llm"):
        get_step("prep_classify")
    with pytest.raises(ConfigError, match="was replaced by decontaminate with filters.decontam_method=rules_llm"):
        build_dag(compose(["experiment=quickstart", "pipeline.steps=[ingest,prep_decontaminate]"]))
    assert main(["plan", "experiment=quickstart", "pipeline.steps=[ingest,prep_classify]"]) == 2
    assert "pipeline.steps[1]='prep_classify': was replaced by classify" in capsys.readouterr().err


def test_methods_are_checked_when_planning():
    with pytest.raises(ConfigError, match="filters.classify_method='llm': was replaced by rules_llm"):
        build_dag(compose(["experiment=quickstart", "pipeline.steps=[ingest,classify]",
                           "filters.classify_method=llm"]))
    with pytest.raises(ConfigError, match=r"filters.decontam_method='exact': unknown method \(allowed: ngram, rules_llm\)"):
        build_dag(compose(["experiment=quickstart", "pipeline.steps=[ingest,decontaminate]",
                           "filters.decontam_method=exact"]))


def test_method_and_its_llm_enter_the_cache_key():
    def key(*o):
        dag = build_dag(compose(["experiment=quickstart", "pipeline.steps=[ingest,classify]", *o]))
        return next(t for t in dag.tasks if t.step == "classify")
    heur, both = key(), key("filters.classify_method=rules_llm")
    assert heur.key != both.key and "llm" not in heur.config_slice
    assert both.config_slice["llm"]["backend"] == "teacher"
    assert heur.key == key("prep.backend=none").key                 # the heuristic method asks no LLM
    assert both.key != key("filters.classify_method=rules_llm", "prep.backend=none").key
