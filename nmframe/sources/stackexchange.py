"""The StackExchange data dump's Posts.xml: questions with their accepted and top-voted answers.

``<row Id PostTypeId="1"|"2" ParentId AcceptedAnswerId Score CreationDate Body Title Tags .../>``
per post. A dump is gigabytes and answers come long after their questions, so the file is read
once with ``iterparse`` (each element cleared after use, the root emptied, so memory stays flat)
into a SQLite file in a scratch folder, and questions are then joined with their answers there:
the accepted answer (``AcceptedAnswerId``) and the top-voted one (highest score, oldest on ties;
the same answer once if it is both).

Cut-off (paper: dumps before July 2024): a question created on or after ``cutoff`` is excluded,
and an answer created on or after it is ignored; both are counted. Skipped and counted: rows
without Id or with a malformed date, posts with no body (deleted or empty), other post types
(tag wikis, ...), answers whose question is not in the file.

Licence per row, by the question's creation date, as StackExchange licenses contributions:
CC BY-SA 2.5 before 2011-04-08, CC BY-SA 3.0 before 2018-05-02, CC BY-SA 4.0 from then on. URL:
``https://<site>/questions/<Id>``.
"""
from __future__ import annotations

import collections
import re
import sqlite3
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from .html import html_to_text
from .thread import Answer, RawThread

SITES = ("math.stackexchange.com", "mathoverflow.net")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T[\d:.]+)?$")
_LICENSES = (("2011-04-08", "CC BY-SA 2.5"), ("2018-05-02", "CC BY-SA 3.0"))
_TAGS = re.compile(r"<([^<>]+)>|\|([^|]+)")


def stackexchange_license(created: str) -> str:
    for until, lic in _LICENSES:
        if created < until:
            return lic
    return "CC BY-SA 4.0"


def site_of_path(path: Path) -> str:
    """The site a dump belongs to, from a folder or file name (the dump's archive names)."""
    for part in reversed(Path(path).parts):
        low = part.lower()
        for site in SITES:
            if low.startswith((site, site.split(".")[0] + ".")):
                return site
    raise ValueError(f"cannot tell the StackExchange site of {path}: put Posts.xml under a folder named "
                     f"after the dump ({' or '.join(SITES)})")


def _tags(raw: str | None) -> list[str]:
    if not raw:
        return []
    return [a or b for a, b in _TAGS.findall(raw) if (a or b)]


def _int(v: str | None) -> int | None:
    try:
        return int(v) if v is not None else None
    except ValueError:
        return None


_SCHEMA = """
CREATE TABLE q (id INTEGER PRIMARY KEY, created TEXT, title TEXT, body TEXT, tags TEXT, score INTEGER,
                accepted INTEGER, closed TEXT);
CREATE TABLE a (id INTEGER PRIMARY KEY, parent INTEGER, score INTEGER, created TEXT, body TEXT);
"""


def _load(path: Path, db: sqlite3.Connection, cutoff: str, skipped: collections.Counter) -> None:
    db.executescript(_SCHEMA)
    qs, ans = [], []
    context = ET.iterparse(str(path), events=("start", "end"))
    root = None
    for event, elem in context:
        if root is None and event == "start":
            root = elem
            continue
        if event != "end" or elem.tag != "row":
            continue
        g = elem.attrib.get
        pid, ptype, created, body = _int(g("Id")), g("PostTypeId"), g("CreationDate") or "", g("Body")
        elem.clear()
        root.clear()
        if pid is None or not _DATE.match(created):
            skipped["stackexchange: row without Id or with a malformed CreationDate"] += 1
            continue
        if ptype not in ("1", "2"):
            skipped["stackexchange: other post type"] += 1
            continue
        if body is None or not body.strip():
            skipped["stackexchange: no body (deleted or empty)"] += 1
            continue
        if created >= cutoff:
            skipped["stackexchange: question after cutoff" if ptype == "1" else "stackexchange: answer after cutoff"] += 1
            continue
        if ptype == "1":
            qs.append((pid, created, g("Title"), body, g("Tags"), _int(g("Score")) or 0,
                       _int(g("AcceptedAnswerId")), g("ClosedDate")))
        else:
            ans.append((pid, _int(g("ParentId")), _int(g("Score")) or 0, created, body))
        if len(qs) + len(ans) >= 5000:
            _flush(db, qs, ans)
    _flush(db, qs, ans)
    db.execute("CREATE INDEX a_parent ON a(parent, score DESC, id)")
    db.commit()


def _flush(db, qs, ans) -> None:
    db.executemany("INSERT OR REPLACE INTO q VALUES (?,?,?,?,?,?,?,?)", qs)
    db.executemany("INSERT OR REPLACE INTO a VALUES (?,?,?,?,?)", ans)
    qs.clear()
    ans.clear()


def read_posts_xml(path: Path, *, cutoff: str = "2024-07-01", site: str | None = None,
                   data_source: str = "stackexchange", skipped: collections.Counter | None = None,
                   scratch: Path | None = None) -> Iterator[RawThread]:
    """Questions of ``path`` (in Id order) with their accepted and top-voted answers."""
    skipped = skipped if skipped is not None else collections.Counter()
    path = Path(path)
    site = site or site_of_path(path)
    if not _DATE.match(cutoff):
        raise ValueError(f"prep.cutoff_date must be YYYY-MM-DD, got {cutoff!r}")
    with tempfile.TemporaryDirectory(dir=scratch, prefix="posts-") as tmp:
        db = sqlite3.connect(str(Path(tmp) / "posts.sqlite"))
        try:
            try:
                _load(path, db, cutoff, skipped)
            except ET.ParseError as exc:
                raise ValueError(f"{path}: not a well-formed Posts.xml ({exc})") from exc
            orphans = db.execute("SELECT COUNT(*) FROM a WHERE parent IS NULL OR parent NOT IN (SELECT id FROM q)").fetchone()[0]
            if orphans:
                skipped["stackexchange: answer whose question is not in the file"] += orphans
            cur = db.execute("SELECT id, created, title, body, tags, score, accepted, closed FROM q ORDER BY id")
            for qid, created, title, body, tags, score, accepted, closed in cur:
                answers = _answers(db, qid, accepted)
                text = html_to_text(body)
                if not text:
                    skipped["stackexchange: empty body after HTML cleaning"] += 1
                    continue
                url = f"https://{site}/questions/{qid}"
                yield RawThread(
                    source_id=f"{site}:{qid}", data_source=data_source, post=text,
                    title=(title or "").strip() or None, answers=answers,
                    discussion="\n\n".join(f"{a.kind.replace('+', ' and ').replace('_', '-').capitalize()} answer "
                                           f"(score {a.score}):\n{a.text}" for a in answers) or None,
                    url=url, license=stackexchange_license(created), created=created, origin=f"{path}:Id={qid}",
                    metadata={"site": site, "question_id": qid, "score": score, "tags": _tags(tags),
                              "accepted_answer_id": accepted, "closed": closed is not None,
                              "answer_ids": [a.id for a in answers]})
        finally:
            db.close()


def _answers(db: sqlite3.Connection, qid: int, accepted: int | None) -> list[Answer]:
    out: list[Answer] = []
    acc = None
    if accepted is not None:
        acc = db.execute("SELECT id, score, body FROM a WHERE id = ? AND parent = ?", (accepted, qid)).fetchone()
    top = db.execute("SELECT id, score, body FROM a WHERE parent = ? ORDER BY score DESC, id LIMIT 1", (qid,)).fetchone()
    if acc is not None:
        kind = "accepted+top_voted" if top is not None and top[0] == acc[0] else "accepted"
        out.append(Answer(kind, html_to_text(acc[2]), acc[1], str(acc[0])))
    if top is not None and (acc is None or top[0] != acc[0]):
        out.append(Answer("top_voted", html_to_text(top[2]), top[1], str(top[0])))
    return out
