"""Planning tokens: marker matches mapped to token spans, and the entropy split."""

import math
import re

import pytest
import torch

from trainer.model import Formatter
from trainer.planning import marker_regex, planning_mask, planning_tensor, split_entropy_sums, token_spans
from trainer.tiny import tiny_tokenizer

LN2 = math.log(2)
NEG_INF = float("-inf")


# ------------------------------------------------------------------------------- planning tokens


def test_planning_mask_char_level_tokenizer_through_the_formatter():
    tok = tiny_tokenizer()
    fmt = Formatter(tok, None, [tok.eos_token_id])
    text = "work: a<b => ab"
    ids = tok(text, add_special_tokens=False).input_ids + [tok.eos_token_id, tok.pad_token_id]
    # chars 0-4 "work:" and 10-11 "=>" are planning; the stop token and the padding after it cover nothing
    expected = [True] * 5 + [False] * 5 + [True, True] + [False] * 3 + [False, False]
    assert planning_mask(fmt, ids, ["work:", "=>"]) == expected
    # a batch of rows: (N, R) bool
    batch = torch.tensor([ids, tok("=> x", add_special_tokens=False).input_ids + [0] * 13])
    rows = planning_tensor(fmt, batch, ["work:", "=>"])
    assert rows.dtype == torch.bool and rows.shape == (2, 17)
    assert rows[0].tolist() == expected and rows[1].tolist() == [True, True] + [False] * 15


VOCAB = ["Let", " me", " chec", "k:", " 2+2", "=4", " but", " wait"]


def _join(ids):
    return "".join(VOCAB[i] for i in ids)


def test_planning_mask_multi_character_tokens():
    # text "Let me check: 2+2=4 but wait"; token spans: Let [0,3) | " me" [3,6) | " chec" [6,11) | "k:" [11,13)
    # | " 2+2" [13,17) | "=4" [17,19) | " but" [19,23) | " wait" [23,28)
    ids = list(range(8))
    text, spans = token_spans(_join, ids)
    assert text == "Let me check: 2+2=4 but wait"
    assert spans == [(0, 3), (3, 6), (6, 11), (11, 13), (13, 17), (17, 19), (19, 23), (23, 28)]
    # "me check" = [4, 12): overlaps " me" (by its "me"), " chec", and "k:" (by its "k"); "wait" = [24, 28)
    assert planning_mask(_join, ids, ["me check", "wait"]) == [False, True, True, True, False, False, False, True]
    # phrases are escaped: "2+2" is the literal text; as a user regex, 2+2 means "2" repeated then "2" (no match)
    assert planning_mask(_join, ids, ["2+2"]) == [False] * 4 + [True] + [False] * 3
    assert planning_mask(_join, ids, "2+2") == [False] * 8
    # a user regex is used as is, flags included
    assert planning_mask(_join, ids, r"(?i)^let") == [True] + [False] * 7


def test_marker_regex_prefers_the_longest_phrase_and_rejects_empty_ones():
    assert marker_regex(["me", "me check"]).search("Let me check").group() == "me check"
    assert marker_regex(re.compile("x")).pattern == "x"
    with pytest.raises(ValueError, match="non-empty"):
        marker_regex([])
    with pytest.raises(ValueError, match="non-empty"):
        marker_regex(["wait", ""])


def test_token_spans_cover_rewritten_characters():
    # byte-level BPE: the first byte of "é" decodes to U+FFFD alone, the second rewrites it to "é"
    pieces = {(7,): "\ufffd", (7, 8): "é", (7, 8, 9): "é!"}
    text, spans = token_spans(lambda ids: pieces[tuple(ids)], [7, 8, 9])
    assert text == "é!" and spans == [(0, 1), (0, 1), (1, 2)]
    assert planning_mask(lambda ids: pieces[tuple(ids)], [7, 8, 9], ["é"]) == [True, True, False]


def test_split_entropy_sums_over_each_side_of_the_response():
    entropy = torch.tensor([[1.0, 2.0, 3.0, 9.0], [4.0, 6.0, 0.0, 0.0]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    planning = torch.tensor([[True, False, False, True], [False, True, False, False]])
    # planning tokens in the response: 1.0 + 6.0 = 7.0 over 2 (the 9.0 is past the response: not counted)
    # execution tokens: 2.0 + 3.0 + 4.0 = 9.0 over 3
    assert split_entropy_sums(entropy, mask, planning) == (7.0, 2.0, 9.0, 3.0)
    # no planning tokens: 0 over 0, and all 16.0 over 5 on the execution side
    assert split_entropy_sums(entropy, mask, torch.zeros_like(planning)) == (0.0, 0.0, 16.0, 5.0)
