"""Lesson 10's tests of the learner's Build code: MyCharTokenizer against CharTokenizer; pair_counts,
most_frequent_pair and merge against brute force and tinytorch's merge; train_bpe, bpe_encode and
bpe_decode against tinytorch's BPETokenizer on English, repeated letters and non-Latin scripts.
`build` is the learner's notebook executed up to `## Use`."""

from __future__ import annotations

from collections import Counter

import numpy as np

from inspector.demo import TEXT as SONNET
from tinytorch.text import BPETokenizer, CharTokenizer
from tinytorch.text.tokenizers import _merge

TEXTS = [
    SONNET,
    "aaaa aaaa aaa abab abababab aaaaaaa",  # overlapping pairs
    "naïve café, Ελληνικά, 東京 and emoji 🙂🙂 — done. 123 4567!",  # multi-byte UTF-8
]


def test_char_tokenizer_matches_tinytorch(build):
    for text in TEXTS:
        ours, theirs = build.MyCharTokenizer(text), CharTokenizer(text)
        assert ours.chars == theirs.chars, f"the vocabulary of {text[:20]!r}... should be {theirs.chars}, but is {ours.chars}"
        assert ours.vocab_size == theirs.vocab_size, f"vocab_size should be {theirs.vocab_size}, but is {ours.vocab_size}"
        assert list(ours.encode(text)) == theirs.encode(text), f"encode({text[:20]!r}...) differs from tinytorch's"
        assert ours.decode(ours.encode(text)) == text, f"decode(encode({text[:20]!r}...)) is not the text"
        assert ours.decode(np.array(theirs.encode(text))) == text, "decode should take an array of ids too"


def test_pair_counts_are_weighted_sums(build):
    rng = np.random.default_rng(1)
    for _ in range(50):
        words = [(list(rng.integers(0, 4, rng.integers(0, 8))), int(rng.integers(1, 5))) for _ in range(6)]
        want = Counter()
        for ids, n in words:
            for k in range(len(ids) - 1):
                want[(ids[k], ids[k + 1])] += n
        got = build.pair_counts(words)
        assert dict(got) == dict(want), f"pair_counts({words}) should be {dict(want)}, but is {dict(got)}"


def test_most_frequent_pair_breaks_ties_by_the_smallest_pair(build):
    rng = np.random.default_rng(2)
    for _ in range(100):
        counts = Counter({(int(a), int(b)): int(rng.integers(1, 4)) for a, b in rng.integers(0, 6, (8, 2))})
        top = max(counts.values())
        want = min(p for p, n in counts.items() if n == top)
        got = build.most_frequent_pair(counts)
        assert tuple(got) == want, f"most_frequent_pair({dict(counts)}) should be {want}, but is {got}"


def test_merge_matches_tinytorch(build):
    rng = np.random.default_rng(3)
    for _ in range(200):
        ids = [int(i) for i in rng.integers(0, 3, rng.integers(0, 12))]
        pair = tuple(int(i) for i in rng.integers(0, 3, 2))
        want = _merge(ids, pair, 999)
        got = build.merge(ids, pair, 999)
        assert list(got) == want, f"merge({ids}, {pair}, 999) should be {want}, but is {got}"


def test_train_bpe_matches_tinytorch(build):
    for text in TEXTS:
        for vocab_size in (256, 260, 300):
            want = BPETokenizer.train(text, vocab_size).merges
            got = [tuple(p) for p in build.train_bpe(text, vocab_size)]
            assert got == want, f"train_bpe({text[:20]!r}..., {vocab_size}) should learn {want}, but learned {got}"


def test_train_bpe_stops_when_no_pair_is_left(build):
    merges = build.train_bpe("ab ab ab", 10_000)
    assert [tuple(p) for p in merges] == BPETokenizer.train("ab ab ab", 10_000).merges, (
        f"'ab ab ab' has as many merges as tinytorch finds, then none: got {merges}"
    )


def test_encode_and_decode_match_tinytorch(build):
    merges = BPETokenizer.train(" ".join(TEXTS) * 3, 400).merges
    reference = BPETokenizer(merges)
    for text in [*TEXTS, "Shall I compare thee to a summer's day? Thou art more lovely", "", "x"]:
        ids = build.bpe_encode(text, merges)
        assert list(ids) == reference.encode(text), (
            f"bpe_encode({text[:20]!r}...) should be {reference.encode(text)}, but is {ids}"
        )
        assert build.bpe_decode(ids, merges) == text, f"bpe_decode(bpe_encode({text[:20]!r}...)) is not the text"


def test_decode_replaces_broken_utf8(build):
    merges = BPETokenizer.train(SONNET, 280).merges
    ids = list("東".encode())[:2]  # the first two of three bytes
    assert build.bpe_decode(ids, merges) == BPETokenizer(merges).decode(ids), "half a character decodes to U+FFFD"
