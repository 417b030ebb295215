"""StackExchange post bodies: HTML to plain text, LaTeX kept exactly as the author typed it.

Bodies are HTML with MathJax in ``$...$`` / ``$$...$$``. Paragraphs, lists, quotes and code
become text with line breaks, links keep their text, images become ``[image]`` (a problem that
needs its picture is then visible as such to the classifier), entities are unescaped. The parser
is the standard library's tolerant one: unclosed or stray tags do not stop it. A bare ``<`` inside
math (``$a<b$``, which sloppy HTML sometimes holds) is escaped before parsing so it stays text.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser

_BLOCK = {"p", "div", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "tr", "hr", "pre"}
_MATH = re.compile(r"\$\$.+?\$\$|\$[^$]+?\$", re.DOTALL)
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANKS = re.compile(r"\n\s*\n\s*(\n\s*)+")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.pre = 0

    def handle_starttag(self, tag, attrs):
        if tag in _BLOCK:
            self.out.append("\n\n")
        if tag == "pre":
            self.pre += 1
        elif tag == "br":
            self.out.append("\n")
        elif tag == "li":
            self.out.append("\n- ")
        elif tag == "img":
            last = self.out[-1] if self.out else ""
            self.out.append(("" if not last or last[-1].isspace() else " ") + "[image] ")
        elif tag in ("td", "th"):
            self.out.append(" | ")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag == "pre":
            self.pre = max(0, self.pre - 1)
        if tag in _BLOCK:
            self.out.append("\n\n")

    def handle_data(self, data):
        # preformatted line breaks are kept apart from the layout clean-up below
        self.out.append(data.replace("\n", "\x01") if self.pre else _SPACES.sub(" ", data.replace("\n", " ")))


def _protect_math(html: str) -> str:
    return _MATH.sub(lambda m: m.group(0).replace("<", "&lt;").replace(">", "&gt;")
                     if "<" in m.group(0) and "</" not in m.group(0) else m.group(0), html)


def html_to_text(html: str | None) -> str:
    """Readable text of an HTML body ('' for None)."""
    if not html:
        return ""
    p = _Text()
    p.feed(_protect_math(html))
    p.close()
    text = "".join(p.out)
    lines = [ln.strip() for ln in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip().replace("\x01", "\n")
