"""ANTLR's two-stage parsing for math-verify's LaTeX parser: SLL first, full LL on failure.

Why: most of math-verify's cost is latex2sympy2's ANTLR parser, and almost all of that is
adaptive prediction in full-context (LL) mode, whose results ANTLR does not keep in its
DFA cache, so a process never gets faster at it. ANTLR's SLL prediction mode is cached
and several times faster, and its documented contract (``PredictionMode.SLL``) is that a
parse either returns the same tree full LL would return, or reports a syntax error.
latex2sympy2's error listener raises on every reported error, so the strategy is exact:
parse in SLL mode; if that raises for any reason, parse again the original way (full
LL) and let that result or that error stand. The verdicts therefore do not change; the
tests compare both modes string by string (``tests/unit/test_answers_two_stage.py``).

This patches latex2sympy2's converter class in the calling process; it is installed by
:func:`.mv_judge._load`, i.e. in grading workers and wherever math-verify is run through
:mod:`.mv_judge`. :func:`uninstall` restores the original methods.
"""
from __future__ import annotations

_ORIGINAL: dict[str, object] = {}


def install() -> bool:
    """Make latex2sympy2 parse SLL-first. Returns False (and changes nothing) when the
    installed latex2sympy2 or ANTLR runtime lacks the hooks this relies on."""
    if _ORIGINAL:
        return True
    try:
        from antlr4.atn.PredictionMode import PredictionMode
        from latex2sympy2_extended import latex2sympy2 as l2s
        converter = l2s._Latex2Sympy
        create_parser = converter.create_parser
        parse = converter.parse
    except (ImportError, AttributeError):
        return False

    def create_parser_sll(self, latex_str):
        parser = create_parser(self, latex_str)
        if getattr(self, "_nmframe_sll", False):
            parser._interp.predictionMode = PredictionMode.SLL
        return parser

    def parse_two_stage(self, latex_str):
        self._nmframe_sll = True
        try:
            return parse(self, latex_str)
        except Exception:  # noqa: BLE001 - any failure: the original full-LL parse decides
            pass
        finally:
            self._nmframe_sll = False
        return parse(self, latex_str)

    _ORIGINAL.update(create_parser=create_parser, parse=parse)
    converter.create_parser = create_parser_sll
    converter.parse = parse_two_stage
    return True


def uninstall() -> None:
    """Restore latex2sympy2's own methods (full LL only)."""
    if not _ORIGINAL:
        return
    from latex2sympy2_extended import latex2sympy2 as l2s
    l2s._Latex2Sympy.create_parser = _ORIGINAL.pop("create_parser")
    l2s._Latex2Sympy.parse = _ORIGINAL.pop("parse")


def installed() -> bool:
    return bool(_ORIGINAL)
