"""Planning tokens, as pure functions (HICRA, arXiv 2509.03646): which response tokens belong to a task's
planning phrases, and the entropy of planning against execution tokens.
"""

from __future__ import annotations

import re
from typing import Callable

import torch
from torch import Tensor

from trainer.model import Formatter

Decoder = Formatter | Callable[[list[int]], str]


def marker_regex(markers: list[str] | str | re.Pattern) -> re.Pattern:
    """Phrases are escaped and OR'ed, longest first (so `let me check` wins over `let me`); a string
    is a regular expression used as is; case-sensitive unless the regex says `(?i)`."""
    if isinstance(markers, re.Pattern):
        return markers
    if isinstance(markers, str):
        return re.compile(markers)
    if not markers or any(not m for m in markers):
        raise ValueError(f"planning markers must be non-empty phrases; got {markers!r}")
    return re.compile("|".join(re.escape(m) for m in sorted(markers, key=len, reverse=True)))


def _decoder(decode: Decoder) -> Callable[[list[int]], str]:
    if isinstance(decode, Formatter):
        return decode.decode  # stops at the first stop token, drops special tokens
    if hasattr(decode, "decode"):  # a tokenizer
        return lambda ids: decode.decode(ids, skip_special_tokens=True)
    return decode


def _common_prefix(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def token_spans(decode: Decoder, response_ids: list[int]) -> tuple[str, list[tuple[int, int]]]:
    """The decoded text and each token's character range [start, end) in it.

    Token k covers what decoding ids[:k+1] adds to decoding ids[:k]; the start is pulled back to where
    the two texts first differ, so a token that rewrites earlier characters (a byte-level BPE token
    completing a multi-byte character) covers them too. Special and post-stop tokens cover nothing.
    """
    decode = _decoder(decode)
    spans, previous = [], ""
    for k in range(len(response_ids)):
        text = decode(response_ids[: k + 1])
        common = len(previous) if text.startswith(previous) else _common_prefix(text, previous)
        spans.append((common, len(text)))
        previous = text
    return previous, spans


def planning_mask(decode: Decoder, response_ids: list[int], markers: list[str] | str | re.Pattern) -> list[bool]:
    """Which response tokens are planning tokens (HICRA's strategic phrases, arXiv 2509.03646).

    Definition: decode the response token by token to get each token's character range
    (`token_spans`); a planning span is each match of the markers in the decoded text (`marker_regex`);
    a token is a planning token when its character range overlaps a planning span. So a token that
    straddles the edge of a phrase counts, and every token of a phrase counts.
    `decode`: a `Formatter`, a tokenizer, or a function ids -> text.
    """
    text, spans = token_spans(decode, response_ids)
    matches = [m.span() for m in marker_regex(markers).finditer(text) if m.end() > m.start()]
    return [any(s < me and ms < e for ms, me in matches) for s, e in spans]


def planning_tensor(decode: Decoder, response_ids: Tensor, markers: list[str] | str | re.Pattern) -> Tensor:
    """`planning_mask` of each row of (N, R) response ids -> (N, R) bool (padding after stop: False
    when `decode` stops or skips it, as a `Formatter` does)."""
    pattern = marker_regex(markers)
    rows = [planning_mask(decode, ids.tolist(), pattern) for ids in response_ids]
    return torch.tensor(rows, dtype=torch.bool, device=response_ids.device).reshape(response_ids.shape)


def split_entropy_sums(
    entropy_per_token: Tensor, response_mask: Tensor, planning: Tensor
) -> tuple[float, float, float, float]:
    """(planning sum, planning tokens, execution sum, execution tokens) of the entropy over response
    tokens that are / are not planning tokens; sums add up over batches. All (N, R)."""
    counted = response_mask.bool()
    plan = counted & planning.bool()
    execution = counted & ~planning.bool()
    ent = entropy_per_token.float()
    return float(ent[plan].sum()), float(plan.sum()), float(ent[execution].sum()), float(execution.sum())
