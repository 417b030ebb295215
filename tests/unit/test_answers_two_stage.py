"""ANTLR's two-stage parse (SLL first, full LL on failure) gives math-verify's own parses:
the same sympy objects and strings, and the same errors, string by string."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from nmframe.answers import mv_judge, two_stage_parse

ROOT = Path(__file__).resolve().parents[2]
CASES = [json.loads(line) for line in
         (Path(__file__).parent / "data" / "grading_cases.jsonl").read_text().splitlines() if line.strip()]


def _corpus() -> list[str]:
    """Answer strings of every kind: the grading table (golds, predictions, their normal
    forms) and an evaluation-shaped workload with malformed answers."""
    from nmframe.answers.grading import normal_pair

    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import grading_workload
    finally:
        sys.path.remove(str(ROOT / "bench"))
    strings = set()
    for case in CASES:
        g, p = str(case["gold"]), str(case["pred"])
        strings.update((g, p, *normal_pair(g, p)))
    for _, _, gold, pred in grading_workload.make_workload(200, seed=7):
        strings.update(x for x in (gold, pred) if x)
    return sorted(s for s in strings if s.strip())


def _parse_all(strings) -> dict:
    import math_verify
    import sympy

    configs = [math_verify.LatexExtractionConfig(), math_verify.ExprExtractionConfig()]
    math_verify.parser.parse_latex_cached.cache_clear()
    out = {}
    for s in strings:
        try:
            res = math_verify.parse(mv_judge._wrap(s), configs, parsing_timeout=None, raise_on_error=True)
            out[s] = [x if isinstance(x, str) else sympy.srepr(x) for x in res]
        except Exception as e:  # noqa: BLE001 - the error must be the same too
            out[s] = f"{type(e).__name__}: {e}"
    return out


def test_two_stage_parses_equal_full_ll_parses():
    mv_judge._load()
    strings = _corpus()
    assert len(strings) > 150
    assert two_stage_parse.installed()
    try:
        two_stage = _parse_all(strings)
        two_stage_parse.uninstall()
        assert not two_stage_parse.installed()
        full_ll = _parse_all(strings)
    finally:
        two_stage_parse.install()
    differ = [s for s in strings if two_stage[s] != full_ll[s]]
    assert differ == []
    assert any(isinstance(v, list) and len(v) == 2 for v in full_ll.values())  # parsed ones
    assert any(v == [s] for s, v in full_ll.items())  # strings math-verify cannot read


def test_a_failed_sll_parse_is_parsed_again_in_full_ll():
    """The fallback: whatever the SLL attempt raises, the original parse decides."""
    from latex2sympy2_extended import latex2sympy2 as l2s

    mv_judge._load()
    two_stage_parse.uninstall()
    original = l2s._Latex2Sympy.parse
    modes = []

    def parse_failing_in_sll(self, latex_str):
        sll = getattr(self, "_nmframe_sll", False)
        modes.append(sll)
        if sll:
            raise RuntimeError("SLL could not decide")
        return original(self, latex_str)

    l2s._Latex2Sympy.parse = parse_failing_in_sll
    try:
        assert two_stage_parse.install()
        assert str(l2s.latex2sympy(r"\frac{1}{2}")) == "1/2"
        assert modes == [True, False]
    finally:
        two_stage_parse.uninstall()
        l2s._Latex2Sympy.parse = original
        two_stage_parse.install()
    assert l2s._Latex2Sympy.parse is not original  # installed again for the other tests


def test_the_parser_runs_in_sll_mode_first():
    from antlr4.atn.PredictionMode import PredictionMode
    from latex2sympy2_extended import latex2sympy2 as l2s

    mv_judge._load()
    seen = []
    converter = l2s._Latex2Sympy()
    make = converter.create_parser

    def spy(latex_str):
        parser = make(latex_str)
        seen.append(parser._interp.predictionMode)
        return parser

    converter.create_parser = spy
    assert str(converter.parse("2+3")) == "2 + 3"
    assert seen == [PredictionMode.SLL]
    with pytest.raises(Exception):
        converter.parse(r"\frac{1}{")
    assert seen[1:] == [PredictionMode.SLL, PredictionMode.LL]
