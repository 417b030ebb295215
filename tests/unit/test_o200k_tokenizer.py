"""The o200k harmony vocabulary converted to a Hugging Face tokenizer tokenises like openai-harmony."""
from __future__ import annotations

import json

import pytest

from nmframe.datafiles import PKG_DATA


@pytest.fixture(scope="module")
def tok():
    from nmframe.models.o200k import load_o200k_tokenizer

    return load_o200k_tokenizer()


@pytest.mark.slow
def test_same_ids_as_openai_harmony_on_shipped_text(tok):
    from nmframe.harmony import render_problem_prompt
    from nmframe.harmony.encoding import encode_teacher_text

    texts = [json.loads(line)["problem"] for line in open(PKG_DATA / "samples" / "problems.jsonl")]
    texts += [render_problem_prompt(texts[0], "low", with_python_tool=True),
              "Héllo wörld 12345678 \u4f60\u597d  \n\n\tit's IT'S  trailing   ", "x" * 300 + "  \r\n"]
    for text in texts:
        ids = tok.encode(text, add_special_tokens=False)
        assert ids == encode_teacher_text(text), text[:80]
        assert tok.decode(ids) == text


@pytest.mark.slow
def test_harmony_special_tokens_are_single_tokens(tok):
    from nmframe.models.o200k import VOCAB_SIZE

    assert len(tok) == VOCAB_SIZE == 201088
    text = "<|start|>assistant<|channel|>analysis to=python code<|message|>print(1)<|call|>"
    ids = tok.encode(text, add_special_tokens=False)
    assert [ids[0], ids[2], ids[-1]] == [200006, 200005, 200012]
    assert (tok.eos_token_id, tok.pad_token_id) == (200002, 199999)
    assert tok.convert_ids_to_tokens(201087) == "<|reserved_201087|>"


def test_bad_vocabulary_line_names_the_file_and_line(tmp_path):
    from nmframe.models.o200k import read_tiktoken_ranks

    bad = tmp_path / "v.tiktoken"
    bad.write_text("IQ== 0\nnot-a-rank-line\n")
    with pytest.raises(ValueError, match=r"v\.tiktoken:2: not a '<base64> <rank>' line"):
        read_tiktoken_ranks(bad)


def test_merges_follow_the_ranks():
    from nmframe.models.o200k import vocab_and_merges

    vocab, merges = vocab_and_merges({b"a": 0, b"b": 1, b"ab": 2, b"abb": 3, b"bb": 4})
    assert vocab == {"a": 0, "b": 1, "ab": 2, "abb": 3, "bb": 4}
    # merges are ordered by the rank of the token they make ("bb", rank 4, last); the two ways of
    # making "abb" are ordered by the ranks of their parts (a=0 before ab=2)
    assert merges == [("a", "b"), ("a", "bb"), ("ab", "b"), ("b", "b")]
