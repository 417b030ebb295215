"""The cheap normal form of an answer string: the grader's fast path and cache key.

Most predictions are written exactly like the gold answer up to presentation:
``$16$``, ``016``, ``\\dfrac{1}{2}``, ``90^\\circ``, ``50\\%``, ``\\text{13}``, ``1,000``,
``16.``. Removing that presentation makes them string-equal, so they are graded
without a symbolic engine, and repeated answers share one cache entry.

Every rewrite here keeps the mathematical meaning that math-verify would read, because
the normal form is also what math-verify is given when the fast path cannot decide:
the cache key must determine the verdict. Rewrites that depend on the gold answer (an
``x =`` prefix on the prediction) live in :func:`strip_assignment`.

Decisions:

* ``%`` is dropped: ``50\\%`` equals ``50`` (and so does not equal ``0.5``), which is how
  math-verify reads percentages and how "what percent" questions are answered.
* degree marks are dropped: ``90^\\circ`` equals ``90``.
* ``1,000`` becomes ``1000`` only when the whole answer is a plain number whose groups
  after the first have exactly three digits; ``1,2``, ``(1,000)`` and ``1,00`` stay lists.
* whitespace is removed except between two letters (``2 x`` -> ``2x``; ``\\pi r`` keeps
  its space so the command does not run into the variable).
* a ``\\text{..}``-style wrapper around the whole answer is removed only when its content
  has no letters (``\\text{13}``); ``\\text{no solution}`` stays, because math-verify
  reads it as one word but ``no solution`` as a product of letters (worded answers are
  compared by :func:`text_key`).
* ``\\\\`` (a matrix row break) is kept intact.
* a trailing ``!`` right after a number, letter or bracket is a factorial and stays
  (``5!`` is 120 to math-verify); after a space it is punctuation.
* a space right after a ``\\text{..}`` group stays: math-verify reads
  ``\\text{The answer is} 7`` as 7 and ``\\text{The answer is}7`` as a product.
* plain-text spellings of constants and functions get their LaTeX form, which is what
  they mean and what math-verify misreads otherwise: a standalone ``pi`` is ``\\pi``
  (math-verify reads ``pi/2`` as p*i/2), ``exp(..)`` is ``\\exp(..)``, ``\\mathrm{e}`` is
  ``e`` and ``\\sqrt(2)`` is ``\\sqrt{2}`` (math-verify drops the root: ``4\\sqrt(2)``
  equal to 4; huggingface/Math-Verify#14, #41, #69).
"""
from __future__ import annotations

import re
from functools import lru_cache

from nmframe.answers.extract import match_brace as _brace_end

_UNICODE = {
    "\u2212": "-",  # minus sign
    "\u2013": "-",
    "\u00d7": "\\times ",
    "\u22c5": "\\cdot ",
    "\u00b7": "\\cdot ",
    "\u221e": "\\infty ",
    "\u03c0": "\\pi ",
    "\u2264": "\\le ",
    "\u2265": "\\ge ",
    "\u2260": "\\ne ",
    "\u00a0": " ",
}
_WRAPPERS = ("boxed", "fbox", "text", "textbf", "textrm", "textit", "textnormal",
             "mathrm", "mathbf", "mathit", "mbox", "displaystyle")
_ALWAYS_UNWRAP = ("boxed", "fbox", "displaystyle")
_LINEBREAK = "\x00"
_LETTER = re.compile(r"[A-Za-z]")
_WRAP_RE = re.compile(r"\\(" + "|".join(_WRAPPERS) + r")\s*\{")
_DELIMS = (("$$", "$$"), ("\\(", "\\)"), ("\\[", "\\]"))
_LEFT_RIGHT_DOT = re.compile(r"\\(?:left|right)\s*\.")
_LEFT_RIGHT = re.compile(r"\\(?:left|right|[bB]igg?[lr]?)(?![a-zA-Z])")
_SPACING = re.compile(r"\\[,;:! ]|~|\\q?quad(?![a-zA-Z])")
_DEGREES = re.compile(
    r"\^\s*\{?\s*\\circ\s*\}?|\\degree(?![a-zA-Z])|\u00b0"
    r"|\\text\{\s*degrees?\s*\}$|(?<![a-zA-Z])degrees?$"
)
_PERCENT = re.compile(r"\\?%|\\text\{\s*percent\s*\}$")
_FRAC_VARIANTS = re.compile(r"\\[dt]frac(?![a-zA-Z])")
_BINOM_VARIANTS = re.compile(r"\\[dt]binom(?![a-zA-Z])")
# trailing punctuation; "!" only where it cannot be a factorial (after a space or punctuation)
_TRAILING = re.compile(r"(?:[\s.,;:?]|(?<![\w)}\]!])!|\\\.|\\,)+$")
# a space right after a \text-style group is kept: math-verify reads "\text{is} 7" as 7 but
# "\text{is}7" as a product
_AFTER_TEXT = re.compile(r"(\\(?:text|textbf|textrm|textit|textnormal|mathrm|mbox)\s*\{[^{}]*\})\s+(?=\S)")
_KEPT_SPACE = "\x01"
_SPACE_RUN = re.compile(r"\s+")
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_THOUSANDS_BRACE = re.compile(r"(?<=\d)\{,\}(?=\d{3})")
_INTEGER = re.compile(r"([+-]?)0*(\d+)")
_PLAIN_PI = re.compile(r"(?<![\\A-Za-z])pi(?![A-Za-z])")
_PLAIN_EXP = re.compile(r"(?<![\\A-Za-z])exp(?=\()")
_ROMAN_E = re.compile(r"\\mathrm\{\s*e\s*\}")
_SQRT_PAREN = re.compile(r"\\sqrt\(([^()]*)\)")


def _latex_constants(s: str) -> str:
    """``pi`` -> ``\\pi``, ``exp(`` -> ``\\exp(``, ``\\mathrm{e}`` -> ``e``, ``\\sqrt(2)`` -> ``\\sqrt{2}``."""
    if "pi" in s and "\\text" not in s:  # words in \text{..} stay words
        s = _PLAIN_PI.sub(r"\\pi ", s)
    if "exp" in s:
        s = _PLAIN_EXP.sub(r"\\exp", s)
    if "\\mathrm" in s:
        s = _ROMAN_E.sub("e", s)
    if "\\sqrt(" in s:
        s = _SQRT_PAREN.sub(r"\\sqrt{\1}", s)
    return s

_DECIMAL_LEAD = re.compile(r"([+-]?)0*(\d*\.\d+)")


def _unwrap_whole(s: str) -> str:
    """Remove ``\\text{...}``-style wrappers and delimiters that enclose the whole answer."""
    changed = True
    while changed and s:
        changed = False
        for a, b in _DELIMS:
            if s.startswith(a) and s.endswith(b) and len(s) >= len(a) + len(b):
                s = s[len(a): len(s) - len(b)].strip()
                changed = True
        m = _WRAP_RE.match(s)
        if m and _brace_end(s, m.end()) == len(s):
            inner = s[m.end(): -1].strip()
            # \text{no solution} is a word to math-verify, "no solution" a product of
            # letters: only unwrap text that holds no letters (\text{13}, \text{(1,2)}).
            if m.group(1) in _ALWAYS_UNWRAP or not _LETTER.search(inner):
                s = inner
                changed = True
        elif s.startswith("\\displaystyle"):
            s = s[len("\\displaystyle"):].strip()
            changed = True
    return s


def _squeeze_spaces(s: str) -> str:
    s = _SPACE_RUN.sub(" ", s).strip()
    if " " not in s:
        return s
    out = []
    for i, c in enumerate(s):
        if c == " ":
            before, after = s[i - 1], s[i + 1]
            if before.isalpha() and after.isalpha():
                out.append(c)
            continue
        out.append(c)
    return "".join(out)


def _canonical_number(s: str) -> str:
    if _THOUSANDS.fullmatch(s):
        s = s.replace(",", "")
    if s.startswith("+"):
        s = s[1:]
    m = _INTEGER.fullmatch(s)
    if m and len(s) < 4000:
        digits = m.group(2).lstrip("0") or "0"
        return digits if digits == "0" else m.group(1).replace("+", "") + digits
    m = _DECIMAL_LEAD.fullmatch(s)
    if m:
        body = m.group(2)
        return m.group(1).replace("+", "") + ("0" + body if body.startswith(".") else body)
    return s


@lru_cache(maxsize=1 << 18)
def normalize(ans: str) -> str:
    """The fast-path normal form of an answer (``""`` for an empty answer)."""
    if ans is None:
        return ""
    s = ans.strip()
    if not s:
        return ""
    for k, v in _UNICODE.items():
        if k in s:
            s = s.replace(k, v)
    s = s.replace("\\$", "").strip()
    # a LaTeX line break \\ must not be read as "\" + the next character ("\ " is a space)
    s = s.replace("\\\\", _LINEBREAK)
    if s.startswith("$") or s.endswith("$"):
        s = s.strip("$").strip()
    s = s.replace("$", "")
    s = _unwrap_whole(s)
    s = _latex_constants(s)
    s = _FRAC_VARIANTS.sub(r"\\frac", s)
    s = _BINOM_VARIANTS.sub(r"\\binom", s)
    s = _LEFT_RIGHT_DOT.sub("", s)
    s = _LEFT_RIGHT.sub("", s)
    s = _SPACING.sub(" ", s)
    s = _TRAILING.sub("", s.strip())
    s = _DEGREES.sub("", s).strip()
    s = _PERCENT.sub("", s).strip()
    s = _TRAILING.sub("", s)
    s = _unwrap_whole(s)
    s = _AFTER_TEXT.sub(lambda m: m.group(1) + _KEPT_SPACE, s)
    s = _squeeze_spaces(s).replace(_KEPT_SPACE, " ")
    s = _THOUSANDS_BRACE.sub(",", s)
    s = _canonical_number(s)
    return s.replace(_LINEBREAK, "\\\\")


_RELATION = re.compile(r"=|<|>|\\[lg]eq?(?![a-zA-Z])|\\[lg]t(?![a-zA-Z])|\\neq?(?![a-zA-Z])|\\approx")
_GREEK = ("alpha|beta|gamma|delta|epsilon|varepsilon|zeta|eta|theta|vartheta|iota|kappa|"
          "lambda|mu|nu|xi|rho|sigma|tau|upsilon|phi|varphi|chi|psi|omega|"
          "Gamma|Delta|Theta|Lambda|Xi|Sigma|Phi|Psi|Omega")
_ASSIGNMENT = re.compile(
    rf"(?:[A-Za-z]|\\(?:{_GREEK})(?![a-zA-Z]))(?:_\{{?[A-Za-z0-9]+\}}?)?\s*=\s*(?P<rhs>.+)"
)


def has_relation(s: str) -> bool:
    """Whether a (normalised) answer states an equation or inequality."""
    return bool(_RELATION.search(s))


_TUPLE_ASSIGNMENT = re.compile(r"\(([A-Za-z](?:,[A-Za-z])+)\)=(?P<rhs>\(.+\))")


def _strip_tuple_assignment(pred: str) -> str:
    """``(x,y)=(1,2)`` -> ``(1,2)``: a tuple of bare variables set to a tuple of as many
    entries (no nested brackets, no further relation)."""
    m = _TUPLE_ASSIGNMENT.fullmatch(pred)
    if not m:
        return pred
    rhs = m.group("rhs")
    body = rhs[1:-1]
    if has_relation(rhs) or any(c in body for c in "()[]{}"):
        return pred
    if body.count(",") != m.group(1).count(","):
        return pred
    return rhs


def strip_assignment(pred: str) -> str:
    """``x=2`` -> ``2``: drop a single-variable assignment prefix from a prediction.

    Applied only when the gold answer is not itself an equation (the caller checks),
    and only for one bare variable (optionally subscripted, Latin or Greek) with a
    right side that holds no further relation: ``x^2-1=0``, ``a+b=3`` and ``x=y=2``
    are left alone. A tuple of bare variables set to a tuple as long is dropped the
    same way (``(x,y)=(1,2)`` -> ``(1,2)``: it states the point, as ``x=2`` states 2).
    """
    m = _ASSIGNMENT.fullmatch(pred)
    if not m:
        return _strip_tuple_assignment(pred)
    rhs = m.group("rhs").strip()
    if not rhs or has_relation(rhs):
        return pred
    return rhs


_TEXT_GROUP = re.compile(r"\\(?:text|textbf|textrm|textit|textnormal|mathrm|mbox)\s*\{([^{}]*)\}")
_WORDS = re.compile(r"[A-Za-z][A-Za-z '\-]*")


def text_key(s: str) -> str | None:
    """Case- and space-insensitive key of a worded answer (``\\text{No solution}``), else None.

    Only answers that are visibly words qualify: some ``\\text``-style group, or at least
    two words. A bare ``x`` or ``AB`` is a mathematical expression whose case matters.
    """
    worded = "\\" in s and _TEXT_GROUP.search(s) is not None
    plain = _TEXT_GROUP.sub(lambda m: m.group(1), s).strip()
    if not worded and " " not in plain:
        return None
    if not _WORDS.fullmatch(plain):
        return None
    return re.sub(r"[\s'\-]+", "", plain).lower()
