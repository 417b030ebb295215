"""AoPS-style thread dumps: ``{forum_post, forum_discussions, url?, license?}`` per row.

``forum_post`` is the thread's first post (where the problem is); ``forum_discussions`` the
replies, as ``Post 1:\\n...\\n\\nPost 2:\\n...`` (where an answer may be). Both are cleaned the
same way: AoPS BBCode (``[b]``, ``[color=..]``, ``[size=..]``, ``[url=..]text[/url]``,
``[img]``, ``[quote]..[/quote]`` in replies, ``[hide]`` kept as its content) and the forum's old
LaTeX macros (``\\equal{}``, ``\\plus{}``, ``\\minus{}``) are turned into plain text and LaTeX.

A row without ``forum_post`` (or with an empty one) and a malformed line are counted in
``skipped`` ("aops: <reason>") and not yielded.
"""
from __future__ import annotations

import collections
import re
from collections.abc import Iterator
from pathlib import Path

from nmframe.datafiles import iter_rows

from .thread import Answer, RawThread

_MACROS = {r"\equal{}": "=", r"\plus{}": "+", r"\minus{}": "-", r"\le{}": r"\le", r"\ge{}": r"\ge"}
_QUOTE = re.compile(r"\[quote(?:=[^\]]*)?\].*?\[/quote\]", re.IGNORECASE | re.DOTALL)
_URL = re.compile(r"\[url(?:=[^\]]*)?\](.*?)\[/url\]", re.IGNORECASE | re.DOTALL)
_IMG = re.compile(r"\[img\].*?\[/img\]", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"\[/?(?:b|i|u|s|color|size|font|center|hide|list|\*|sub|sup|tex|asy)(?:=[^\]]*)?\]", re.IGNORECASE)
_HTML_SUB = re.compile(r"<su([bp])>(.*?)</su\1>", re.IGNORECASE | re.DOTALL)
_POST = re.compile(r"(?m)^Post (\d+):[ \t]*\n")
_BLANKS = re.compile(r"\n[ \t]*\n([ \t]*\n)+")


def clean_bbcode(text: str, drop_quotes: bool = False) -> str:
    """Forum markup to text: see the module docstring. LaTeX is left untouched."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    for k, v in _MACROS.items():
        text = text.replace(k, v)
    if drop_quotes:
        text = _QUOTE.sub("", text)
    text = _URL.sub(r"\1", text)
    text = _IMG.sub("[image]", text)
    text = _HTML_SUB.sub(lambda m: ("_" if m.group(1).lower() == "b" else "^") + "{" + m.group(2) + "}", text)
    text = _TAGS.sub("", text)
    return _BLANKS.sub("\n\n", text).strip()


def split_posts(discussion: str | None) -> list[str]:
    """The replies of a ``Post N:`` discussion (the whole text as one reply if it has no headers)."""
    if not discussion or not discussion.strip():
        return []
    text = discussion.replace("\r\n", "\n").replace("\r", "\n")
    heads = list(_POST.finditer(text))
    if not heads:
        return [text.strip()]
    out = []
    for h, nxt in zip(heads, heads[1:] + [None]):
        body = text[h.end(): nxt.start() if nxt else len(text)].strip()
        if body:
            out.append(body)
    return out


def read_aops(path: Path, *, data_source: str = "aops", skipped: collections.Counter | None = None,
              fmt: str = "auto") -> Iterator[RawThread]:
    skipped = skipped if skipped is not None else collections.Counter()
    path = Path(path)
    for line, row, err in iter_rows(path, fmt):
        origin = f"{path}:{line}"
        if err is not None:
            skipped["aops: malformed line"] += 1
            continue
        post = row.get("forum_post")
        if not isinstance(post, str) or not post.strip():
            skipped["aops: no forum_post"] += 1
            continue
        text = clean_bbcode(post)
        if not text:
            skipped["aops: empty after cleaning"] += 1
            continue
        disc = row.get("forum_discussions") if isinstance(row.get("forum_discussions"), str) else None
        replies = [clean_bbcode(p, drop_quotes=True) for p in split_posts(disc)]
        answers = [Answer("post", r, None, str(i + 1)) for i, r in enumerate(replies) if r]
        yield RawThread(
            source_id=str(row.get("id") or f"aops:{path.stem}:{line}"), data_source=row.get("data_source") or data_source,
            post=text, title=row.get("title") if isinstance(row.get("title"), str) else None, answers=answers,
            discussion="\n\n".join(f"Post {a.id}:\n{a.text}" for a in answers) or None,
            url=row.get("url") if isinstance(row.get("url"), str) else None,
            license=row.get("license") if isinstance(row.get("license"), str) else None,
            created=str(row["created"]) if row.get("created") is not None else None,
            origin=origin, metadata={"posts": len(answers)})
