"""AoPS thread dumps: BBCode and old macros cleaned, replies split, bad rows counted."""
from __future__ import annotations

import collections
import json

from nmframe.datafiles import PKG_DATA
from nmframe.sources import read_aops
from nmframe.sources.aops import clean_bbcode, split_posts


def test_shipped_sample_reads_every_thread():
    skipped = collections.Counter()
    threads = list(read_aops(PKG_DATA / "samples" / "aops-forum-posts.jsonl", skipped=skipped))
    assert len(threads) == 10 and not skipped
    assert [len(t.answers) for t in threads] == [3, 0, 2, 3, 1, 1, 0, 2, 2, 4]
    assert threads[0].source_id == "aops:aops-forum-posts:1"
    assert threads[0].origin.endswith("aops-forum-posts.jsonl:1")
    last = threads[9]
    assert last.post.startswith("1. Three integers a, b, and c")          # [color=cyan] removed
    assert "(a,b,c) = (-3,-1,1)" in last.answers[2].text                  # [hide] content kept
    assert last.discussion.startswith("Post 1:\nWait, so how is that possible?")
    assert "\\equal{}" not in threads[4].answers[0].text and "a = 1,b = c = d = 12" in threads[4].answers[0].text


def test_bbcode_cleaning():
    assert clean_bbcode("[b]Find[/b] [color=red]$x$[/color] [url=http://a]here[/url] [img]p.png[/img]") == \
        "Find $x$ here [image]"
    assert clean_bbcode("a<sub>xy</sub> + b<sup>2</sup>") == "a_{xy} + b^{2}"
    assert clean_bbcode("[quote=Bob]old text[/quote]\nMy reply", drop_quotes=True) == "My reply"
    assert clean_bbcode("$a \\plus{} b \\equal{} c \\minus{} d$") == "$a + b = c - d$"


def test_split_posts():
    assert split_posts("Post 1:\nA\n\nPost 2:\nB\r\nC") == ["A", "B\nC"]
    assert split_posts("no headers here") == ["no headers here"]
    assert split_posts("") == [] and split_posts(None) == []


def test_bad_rows_are_counted(tmp_path):
    p = tmp_path / "dump.jsonl"
    p.write_text("\n".join([json.dumps({"forum_post": "Find $x$ if $x+1=2$.", "url": "https://aops.com/t/1",
                                        "license": "AoPS terms"}),
                            json.dumps({"forum_discussions": "Post 1:\nhi"}),
                            json.dumps({"forum_post": "   "}),
                            "{not json"]) + "\n")
    skipped = collections.Counter()
    got = list(read_aops(p, skipped=skipped))
    assert [(t.url, t.license, t.answers) for t in got] == [("https://aops.com/t/1", "AoPS terms", [])]
    assert dict(skipped) == {"aops: no forum_post": 2, "aops: malformed line": 1}
