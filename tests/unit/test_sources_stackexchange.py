"""StackExchange Posts.xml reader: joins, cut-off, licences, URLs, skips with reasons, HTML to text."""
from __future__ import annotations

import collections

import pytest

from nmframe.sources import read_posts_xml, site_of_path, stackexchange_license
from nmframe.sources.html import html_to_text
from tests.helpers import write_dump

@pytest.fixture
def threads(tmp_path):
    skipped = collections.Counter()
    out = list(read_posts_xml(write_dump(tmp_path), cutoff="2024-07-01", skipped=skipped, scratch=tmp_path))
    return {t.metadata["question_id"]: t for t in out}, skipped


def test_questions_joined_with_accepted_and_top_voted_answers(threads):
    by_id, _ = threads
    assert sorted(by_id) == [1, 4, 10]
    q1 = by_id[1]
    assert [(a.kind, a.id, a.score) for a in q1.answers] == [("accepted", "2", 5), ("top_voted", "3", 10)]
    assert q1.answers[0].text == "Pair the terms: $5 \\cdot 11 = \\boxed{55}$."
    assert q1.post == "Find $1+2+\\cdots+10$."
    assert q1.title == "Sum of the first ten positive integers"
    assert q1.metadata["tags"] == ["sequences-and-series", "arithmetic"]
    assert by_id[4].metadata["tags"] == ["calculus", "integration"]
    assert [(a.kind, a.id) for a in by_id[4].answers] == [("top_voted", "5")]
    assert [(a.kind, a.id) for a in by_id[10].answers] == [("accepted+top_voted", "11")]
    assert q1.discussion.startswith("Accepted answer (score 5):\nPair the terms")


def test_licence_and_url_per_row(threads):
    by_id, _ = threads
    assert by_id[1].url == "https://math.stackexchange.com/questions/1"
    assert (by_id[10].license, by_id[1].license, by_id[4].license) == ("CC BY-SA 2.5", "CC BY-SA 3.0", "CC BY-SA 4.0")
    assert by_id[1].source_id == "math.stackexchange.com:1"
    assert by_id[1].data_source == "stackexchange"
    assert stackexchange_license("2018-05-02T00:00:00") == "CC BY-SA 4.0"
    assert stackexchange_license("2018-05-01T23:59:59") == "CC BY-SA 3.0"


def test_cutoff_deleted_other_types_and_orphans_are_counted(threads):
    _, skipped = threads
    assert dict(skipped) == {
        "stackexchange: question after cutoff": 1,
        "stackexchange: answer after cutoff": 2,          # Id 7 and the late answer Id 13
        "stackexchange: no body (deleted or empty)": 1,
        "stackexchange: other post type": 1,
        "stackexchange: answer whose question is not in the file": 1,
        "stackexchange: row without Id or with a malformed CreationDate": 1,
    }


def test_late_answer_does_not_become_top_voted(threads):
    by_id, _ = threads
    assert "13" not in [a.id for a in by_id[1].answers]


def test_malformed_html_keeps_text_and_math(threads):
    by_id, _ = threads
    text = by_id[4].post
    assert "Compute $\\int_0^1 x^2\\,dx$ quickly" in text
    assert "given $a<b$ & unclosed tags" in text
    assert "- one" in text and "- two" in text
    ans = by_id[4].answers[0].text
    assert "It is $1/3$. [image]" in ans
    assert "x = 1\n  y = 2" in ans


def test_cutoff_is_configurable(tmp_path):
    skipped = collections.Counter()
    got = [t.metadata["question_id"] for t in read_posts_xml(write_dump(tmp_path), cutoff="2015-01-01",
                                                              skipped=skipped, scratch=tmp_path)]
    assert got == [1, 10]
    assert skipped["stackexchange: question after cutoff"] == 2


def test_mathoverflow_site_from_folder(tmp_path):
    t = next(iter(read_posts_xml(write_dump(tmp_path, "mathoverflow.net"), scratch=tmp_path)))
    assert t.url == "https://mathoverflow.net/questions/1"
    assert t.metadata["site"] == "mathoverflow.net"


def test_unknown_site_and_bad_xml_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="cannot tell the StackExchange site"):
        site_of_path(tmp_path / "dumps" / "Posts.xml")
    bad = write_dump(tmp_path, text="<posts><row Id='1' PostTypeId='1'")
    with pytest.raises(ValueError, match="not a well-formed Posts.xml"):
        list(read_posts_xml(bad, scratch=tmp_path))
    with pytest.raises(ValueError, match="prep.cutoff_date must be YYYY-MM-DD"):
        list(read_posts_xml(write_dump(tmp_path), cutoff="July 2024"))


def test_html_to_text_blocks_entities_and_code():
    assert html_to_text("<p>a &amp; b</p><p>c<br>d</p>") == "a & b\n\nc\nd"
    assert html_to_text("<ol><li>x</li><li>y</li></ol>") == "- x\n- y"
    assert html_to_text(None) == ""
    assert html_to_text("<blockquote>q</blockquote>text <a href='u'>link</a>") == "q\n\ntext link"
