"""tinytorch.text tokenizers: CharTokenizer and the byte-level BPETokenizer."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinytorch as tt
from tinytorch.text import SPLIT_PATTERN, BPETokenizer, CharTokenizer
from tinytorch.text.tokenizers import _SPLIT, _merge, _merge_array

CORPUS = (
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n"
    "First Citizen:\nYou are all resolved rather to die than to famish?\n\nAll:\nResolved. resolved.\n\n"
    "First Citizen:\nFirst, you know Caius Marcius is chief enemy to the people.\n\n"
    "We know't, we know't. Let us kill him, and we'll have corn at our own price. Is't a verdict?\n"
)
UNICODE = ["héllo wörld", "emoji 😀🎉 and 👩‍👩‍👧", "中文字符和日本語", "e\u0301 a\u0308\u0323", "nul\x00byte", "tab\tcr\r\nlf"]
STRINGS = ["", "a", "hello, world!", " leading and trailing  ", *UNICODE, "abc" * 2000, "z" * 999]


# ---------------------------------------------------------------- CharTokenizer


def test_char_vocabulary_is_the_sorted_characters():
    tok = CharTokenizer("hello")
    assert tok.chars == ["e", "h", "l", "o"] and tok.vocab_size == len(tok) == 4
    assert tok.stoi == {"e": 0, "h": 1, "l": 2, "o": 3} and tok.itos == {0: "e", 1: "h", 2: "l", 3: "o"}
    assert tok.encode("hello") == [1, 0, 2, 2, 3]
    assert CharTokenizer.from_text("hello") == tok


@pytest.mark.parametrize("text", STRINGS)
def test_char_round_trip(text):
    tok = CharTokenizer(CORPUS + "".join(UNICODE) + text)
    ids = tok.encode(text)
    assert tok.decode(ids) == text and len(ids) == len(text)


def test_char_encode_as_array():
    tok = CharTokenizer(CORPUS)
    ids = tok.encode("First", as_array=True)
    assert isinstance(ids, np.ndarray) and ids.dtype == np.int64 and ids.tolist() == tok.encode("First")
    assert tok.decode(ids) == "First" and tok.decode(tt.tensor(ids)) == "First"
    assert tok.encode("", as_array=True).dtype == np.int64


def test_char_unknown_character_is_named_with_its_position():
    tok = CharTokenizer("abc")
    with pytest.raises(ValueError, match=r"character 'é' \(U\+00E9\) at position 3 is not in the vocabulary of 3"):
        tok.encode("abcéa")


def test_char_unk_maps_unknown_characters():
    tok = CharTokenizer("abc", unk="?")
    assert tok.chars == ["?", "a", "b", "c"]
    assert tok.encode("aéb😀") == [1, 0, 2, 0] and tok.decode(tok.encode("aéb")) == "a?b"
    with pytest.raises(ValueError, match="unk must be one character"):
        CharTokenizer("abc", unk="??")


@pytest.mark.parametrize(
    "ids, message",
    [
        ([0, 3], "token id 3 at position 1 is not in the vocabulary"),
        ([-1], "token id -1 at position 0"),
        ([[0, 1]], r"one sequence of ids, got shape \(1, 2\)"),
        ([0.5], "must be integers"),
    ],
)
def test_char_decode_rejects_bad_ids(ids, message):
    with pytest.raises(ValueError, match=message):
        CharTokenizer("abc").decode(ids)


def test_char_save_load(tmp_path):
    tok = CharTokenizer(CORPUS + "".join(UNICODE) + "\ud800", unk="~")
    tok.save(tmp_path / "chars.json")
    back = CharTokenizer.load(tmp_path / "chars.json")
    assert back == tok and back.stoi == tok.stoi and back.unk == "~"
    assert back.encode(CORPUS) == tok.encode(CORPUS)
    assert back != CharTokenizer(CORPUS)


def test_char_load_rejects_other_files(tmp_path):
    path = tmp_path / "t.json"
    BPETokenizer().save(path)
    with pytest.raises(ValueError, match="does not hold a CharTokenizer.*'tinytorch.BPETokenizer'"):
        CharTokenizer.load(path)
    path.write_text(json.dumps({"type": "tinytorch.CharTokenizer", "chars": ["a", "a"], "unk": None}))
    with pytest.raises(ValueError, match=r"'chars' repeats \['a'\]"):
        CharTokenizer.load(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="cannot read a CharTokenizer"):
        CharTokenizer.load(path)


# ---------------------------------------------------------------- BPE: training


def _reference_train(text: str, vocab_size: int) -> tuple[list[tuple[int, int]], list[int]]:
    """Plain-Python BPE, the textbook way: recount every pair each step, same chunks, same tie rule."""
    chunks = [list(c.encode("utf-8")) for c in _SPLIT.findall(text)]
    merges = []
    for new in range(256, vocab_size):
        stats = Counter(p for ids in chunks for p in zip(ids, ids[1:]))
        if not stats:
            break
        pair = max(stats, key=lambda p: (stats[p], -p[0], -p[1]))  # most frequent, then smallest ids
        merges.append(pair)
        chunks = [_merge(ids, pair, new) for ids in chunks]
    return merges, [i for ids in chunks for i in ids]


@pytest.mark.parametrize("text", [CORPUS, "aaaaaaa aaaa aaa b" * 3, "abababab cdcdcd 😀😀😀 " * 4])
def test_bpe_training_matches_the_plain_python_algorithm(text):
    merges, ids = _reference_train(text, 300)
    tok = BPETokenizer.train(text, 300)
    assert tok.merges == merges
    assert tok.encode(text) == ids  # encoding the training text reproduces training's own merging


def test_bpe_training_is_deterministic():
    a, b = BPETokenizer.train(CORPUS, 320), BPETokenizer.train(CORPUS, 320)
    assert a.merges == b.merges and len(a.merges) == 64


def test_bpe_ties_go_to_the_smallest_pair():
    # (c, d), (d, a), (a, b) all occur once; (a, b) wins though (c, d) comes first in the text
    assert BPETokenizer.train("cdab", 257).merges == [(97, 98)]


def test_bpe_vocab_256_is_pure_bytes():
    tok = BPETokenizer.train(CORPUS, 256)
    assert tok.merges == [] and tok.vocab_size == 256
    for s in STRINGS:
        assert tok.encode(s) == list(s.encode("utf-8"))


def test_bpe_merges_compress_the_training_text():
    tok = BPETokenizer.train(CORPUS, 350)
    assert tok.vocab_size == 350 and tok.vocab[256] == tok.vocab[tok.merges[0][0]] + tok.vocab[tok.merges[0][1]]
    assert len(tok.encode(CORPUS)) < 0.6 * len(CORPUS.encode("utf-8"))


def test_bpe_never_merges_across_chunks():
    tok = BPETokenizer.train("a b " * 50, 300)
    assert all(b" " not in token.strip(b" ") for token in tok.vocab)  # " b" is a token, "a b" never
    assert b" b" in tok.vocab


def test_bpe_stops_when_no_pair_is_left(capsys):
    tok = BPETokenizer.train("ab", 1000, verbose=True)
    assert tok.merges == [(97, 98)] and tok.vocab_size == 257
    out = capsys.readouterr().out
    assert "(97, 98) -> 256 b'ab'" in out and "stopping at vocab_size 257" in out


def test_bpe_rejects_a_vocab_below_256():
    with pytest.raises(ValueError, match="at least 256"):
        BPETokenizer.train(CORPUS, 255)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 3), max_size=30), st.integers(0, 3), st.integers(0, 3))
def test_merge_array_matches_merge(ids, a, b):
    arr, weights = np.array(ids, dtype=np.int64), np.arange(len(ids))
    merged, w = _merge_array(arr, weights, (a, b), 9)
    assert merged.tolist() == _merge(ids, (a, b), 9)
    assert len(w) == len(merged)


# ---------------------------------------------------------------- BPE: encode / decode


@pytest.fixture(scope="module")
def bpe() -> BPETokenizer:
    return BPETokenizer.train(CORPUS * 3, 350)


@pytest.mark.parametrize("text", [*STRINGS, CORPUS, "\ud800 lone surrogate", "\ud83d\ude00 split pair"])
def test_bpe_round_trip(bpe, text):
    ids = bpe.encode(text)
    assert bpe.decode(ids) == text
    assert all(0 <= i < bpe.vocab_size for i in ids)


@settings(max_examples=300, deadline=None)
@given(text=st.text())
def test_bpe_round_trips_any_text(bpe, text):
    assert "".join(_SPLIT.findall(text)) == text  # the pre-split drops nothing
    assert bpe.decode(bpe.encode(text)) == text


def test_bpe_encode_applies_merges_in_learned_order():
    # merge 0 is (b, c): "abc" becomes [a, bc], although (a, b) (merge 1) comes first in the text
    tok = BPETokenizer([(98, 99), (97, 98)])
    assert tok.encode("abc") == [97, 256] and tok.encode("abd") == [257, 100]


def test_bpe_encode_as_array(bpe):
    ids = bpe.encode(CORPUS, as_array=True)
    assert ids.dtype == np.int64 and ids.tolist() == bpe.encode(CORPUS) and bpe.decode(ids) == CORPUS


@pytest.mark.parametrize("ids, message", [([65, 350], "token id 350 at position 1"), ([-2], "token id -2 at position 0")])
def test_bpe_decode_rejects_bad_ids(bpe, ids, message):
    with pytest.raises(ValueError, match=message):
        bpe.decode(ids)


def test_bpe_decode_of_invalid_utf8_replaces(bpe):
    assert bpe.decode([0xE4, 65]) == "\ufffdA"  # a sampled sequence may cut a character in half
    assert bpe.decode_bytes([0xE4, 65]) == b"\xe4A"
    with pytest.raises(UnicodeDecodeError):
        bpe.decode([0xE4], errors="strict")


def test_bpe_save_load(tmp_path, bpe):
    bpe.save(tmp_path / "bpe.json")
    back = BPETokenizer.load(tmp_path / "bpe.json")
    assert back == bpe and back.vocab == bpe.vocab and back.encode(CORPUS) == bpe.encode(CORPUS)
    obj = json.loads((tmp_path / "bpe.json").read_text())
    assert obj["pattern"] == SPLIT_PATTERN and obj["merges"][0] == list(bpe.merges[0])


def test_bpe_load_rejects_bad_files(tmp_path):
    path = tmp_path / "bpe.json"
    path.write_text(json.dumps({"type": "tinytorch.BPETokenizer", "pattern": SPLIT_PATTERN, "merges": [[97, 300]]}))
    with pytest.raises(ValueError, match=r"merge 0 \(97, 300\) uses an id not yet defined"):
        BPETokenizer.load(path)
    path.write_text(json.dumps({"type": "tinytorch.BPETokenizer", "pattern": SPLIT_PATTERN, "merges": [[97, "b"]]}))
    with pytest.raises(ValueError, match=r"list of \[id, id\] pairs"):
        BPETokenizer.load(path)
    path.write_text(json.dumps({"type": "tinytorch.BPETokenizer", "pattern": r"\S+", "merges": []}))
    with pytest.raises(ValueError, match="split pattern"):
        BPETokenizer.load(path)
    CharTokenizer("ab").save(path)
    with pytest.raises(ValueError, match="does not hold a BPETokenizer"):
        BPETokenizer.load(path)
