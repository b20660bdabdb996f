"""Measurement probes, as pure functions: drift from the base model, update sparsity, planning tokens.

- `kl_to_base`: forward KL(base || policy) on a task's prompts, exact over the vocabulary at each
  position of base-sampled completions (RL's Razor, arXiv 2509.04259: it predicts forgetting).
  `k3_kl` is the cheap estimate of the other direction, KL(policy || ref), on the policy's samples.
- `update_sparsity` / `changed_mask` / `changed_overlap`: which parameters moved since the start, in
  float32 or after bf16 rounding, and whether two runs moved the same ones (arXiv 2505.11711).
- `planning_mask` / `split_entropy`: which response tokens belong to planning phrases, and the entropy
  of planning vs execution tokens (HICRA, arXiv 2509.03646).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from trainer.losses import k3
from trainer.model import Formatter
from trainer.rollout import generate, response_logits

# ------------------------------------------------------------------------------------- KL to base


def position_kl(base_logits: Tensor, policy_logits: Tensor, temperature: float = 1.0) -> Tensor:
    """Exact KL(base || policy) of the next-token distributions at each position. (..., V) x2 -> (...).

        KL_t = sum_v p_base(v) * (log p_base(v) - log p_policy(v)),  p = softmax(logits / temperature)

    A vocabulary entry the base gives probability 0 (a -inf logit) contributes 0. Where the two
    distributions agree, float32 rounding can leave about -1e-9; each position is clamped at 0, the
    exact value's lower bound.
    """
    base_logp = (base_logits.float() / temperature).log_softmax(dim=-1)
    policy_logp = (policy_logits.float() / temperature).log_softmax(dim=-1)
    base_p = base_logp.exp()
    terms = torch.where(base_p > 0, base_p * (base_logp - policy_logp), torch.zeros_like(base_p))
    return terms.sum(dim=-1).clamp_min(0.0)


@contextlib.contextmanager
def _eval_mode(*models: torch.nn.Module):
    modes = [m.training for m in models]
    for m in models:
        m.eval()
    try:
        yield
    finally:
        for m, mode in zip(models, modes):
            m.train(mode)


@torch.no_grad()
def kl_to_base(
    policy: torch.nn.Module,
    base: torch.nn.Module,
    fmt: Formatter,
    prompt_ids: list[list[int]],
    *,
    samples: int,
    max_new_tokens: int,
    temperature: float,
    generator: torch.Generator | None,
    batch_size: int,
    autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
) -> float:
    """Forward KL from the base model, KL(base || policy), token-mean over base-sampled completions.

    Estimator: `samples` completions per prompt are drawn from the BASE model at `temperature`
    (`generator` must live on the base model's device); both models are teacher-forced on
    prompt + completion; at every response position (`response_mask`: sampled tokens up to and
    including the stop token) the KL of the two next-token distributions at `temperature` is summed
    exactly over the vocabulary (`position_kl`). The result is the mean over all those positions:

        KL ~= sum_{n,t} mask_nt * KL(p_base(. | x_n, y_n<t) || p_policy(. | x_n, y_n<t)) / sum mask

    Exact per position, Monte Carlo over the base-sampled prefixes: a consistent estimate of the
    per-token KL of the base's own completions, with far less variance than a single-token estimate.
    Non-negative; 0 when the two models agree. `batch_size` bounds the sequences per forward pass.
    """
    total = torch.zeros((), dtype=torch.float64)
    tokens = 0.0
    per_chunk = max(1, batch_size // samples)
    policy_device = next(policy.parameters()).device
    with _eval_mode(policy, base):
        for i in range(0, len(prompt_ids), per_chunk):
            repeated = [p for p in prompt_ids[i : i + per_chunk] for _ in range(samples)]
            out = generate(
                base,
                repeated,
                max_new_tokens=max_new_tokens,
                temperature=temperature,
                generator=generator,
                stop_ids=fmt.stop_ids,
                pad_id=fmt.pad_id,
                autocast=autocast,
            )
            args = (out.prompt_ids, out.prompt_mask, out.response_ids, out.response_mask)
            with autocast():
                base_logits = response_logits(base, *args)
                policy_logits = response_logits(policy, *(a.to(policy_device) for a in args))
            kl = position_kl(base_logits, policy_logits.to(base_logits.device), temperature)  # (N, R)
            mask = out.response_mask.to(kl.dtype)
            total += (kl * mask).sum().double().cpu()
            tokens += float(mask.sum())
    return float(total) / max(tokens, 1.0)


def k3_kl(policy_logprobs: Tensor, ref_logprobs: Tensor, mask: Tensor) -> float:
    """k3 estimate of KL(policy || ref) from the policy's OWN samples, token mean over `mask`.

        delta_t = log p_ref(y_t) - log p_policy(y_t),   k3_t = exp(delta_t) - delta_t - 1

    Each k3_t >= 0 and its expectation under the policy is KL(policy || ref) (Schulman's k3; the term
    GRPO adds to its loss). It is the other direction from `kl_to_base`, and only an estimate from the
    sampled tokens: cheap (no extra sampling, no full vocabulary), noisier. All inputs (B, T).
    """
    return float(k3_sum(policy_logprobs, ref_logprobs, mask) / mask.sum().clamp(min=1))


def k3_sum(policy_logprobs: Tensor, ref_logprobs: Tensor, mask: Tensor) -> Tensor:
    """The sum of k3 over the tokens in `mask` (see `k3_kl`); positions outside it count 0 even where a
    padded log-prob is infinite."""
    per_token = k3(policy_logprobs.float(), ref_logprobs.float())
    return torch.where(mask.bool(), per_token, torch.zeros_like(per_token)).sum()


# -------------------------------------------------------------------------------- update sparsity


@dataclass(frozen=True)
class ChangedFraction:
    """How many of `total` parameters changed: exactly (a != b) and by more than the tolerance."""

    total: int
    changed: float  # fraction with a != b (after casting both to the report's dtype)
    beyond_tol: float  # fraction with |a - b| > tol


@dataclass(frozen=True)
class SparsityReport:
    """Update sparsity against the starting weights. Always report `dtype` with the figure."""

    dtype: str  # "float32" | "bfloat16": both weights were cast to this before comparing
    tol: float
    total: int
    changed: float
    beyond_tol: float
    per_module: dict[str, ChangedFraction]  # owning module: model.layers.0.self_attn.q_proj
    per_block: dict[str, ChangedFraction]  # up to the layer index: model.layers.0; else as per_module


def snapshot(model: torch.nn.Module) -> dict[str, Tensor]:
    """The model's parameters as float32 CPU copies (tied weights once): the `start` to compare with.
    A full-precision copy of the weights: for a large model, mind host memory."""
    return {name: p.detach().float().cpu().clone() for name, p in model.named_parameters()}


def module_of(name: str) -> str:
    """`model.layers.0.self_attn.q_proj.weight` -> `model.layers.0.self_attn.q_proj`."""
    return name.rsplit(".", 1)[0] if "." in name else name


def block_of(name: str) -> str:
    """`model.layers.0.self_attn.q_proj.weight` -> `model.layers.0`; no index: the owning module."""
    parts = name.split(".")
    for i, part in enumerate(parts):
        if part.isdigit():
            return ".".join(parts[: i + 1])
    return module_of(name)


def _pairs(start: dict[str, Tensor], now: dict[str, Tensor]) -> list[tuple[str, Tensor, Tensor]]:
    """(name, start, now) in sorted name order, each tensor counted once: a name of `now` whose
    storage an earlier name already holds (tied weights in a live `state_dict()`) is skipped."""
    if set(start) != set(now):
        missing, extra = sorted(set(start) - set(now)), sorted(set(now) - set(start))
        raise ValueError(f"state dicts differ: missing from now {missing[:5]}, not in start {extra[:5]}")
    seen: set[tuple[int, tuple[int, ...]]] = set()
    out = []
    for name in sorted(start):
        a, b = start[name], now[name]
        if a.shape != b.shape:
            raise ValueError(f"{name}: shape {tuple(a.shape)} at start, {tuple(b.shape)} now")
        key = (b.data_ptr(), tuple(b.shape))
        if key in seen:
            continue
        seen.add(key)
        out.append((name, a, b))
    return out


def _diff(a: Tensor, b: Tensor, tol: float, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """(a != b, |a - b| > tol), flat, after casting both to `dtype` (bf16: round both, then compare)."""
    a = a.detach().to(dtype=dtype).flatten()
    b = b.detach().to(device=a.device, dtype=dtype).flatten()
    return a != b, (a.float() - b.float()).abs() > tol


def update_sparsity(
    start: dict[str, Tensor], now: dict[str, Tensor], *, tol: float = 1e-5, dtype: torch.dtype = torch.float32
) -> SparsityReport:
    """Fraction of parameters that changed since `start` (use `snapshot(model)`), overall and per module.

    The dtype decides what "changed" means, so report it with the figure:
    - float32: almost everything changes. Adam's step is lr * m / (sqrt(v) + eps), about lr * sign(g)
      whatever the gradient's size, so every parameter that ever had a nonzero gradient moves by ~lr
      (and weight decay moves the rest). Only parameters with exactly zero gradient stay put. `tol`
      asks the more useful question: which moved by more than tol.
    - bfloat16 (both weights rounded to bf16, as in bf16 checkpoints): with 8 significant bits, a
      weight w only changes when the update crosses a rounding boundary, about |w| * 2^-8 apart. Small
      updates (lr 1e-6 on weights ~1e-2) round away, so bf16 shows the sparse slice arXiv 2505.11711
      reports (5-30% under RL): bf16 rounding hides small updates, it does not measure where none
      happened.
    """
    total = 0
    changed = beyond = 0
    modules: dict[str, list[int]] = {}
    blocks: dict[str, list[int]] = {}
    for name, a, b in _pairs(start, now):
        exact, far = _diff(a, b, tol, dtype)
        counts = (exact.numel(), int(exact.sum()), int(far.sum()))
        total, changed, beyond = total + counts[0], changed + counts[1], beyond + counts[2]
        for groups, key in ((modules, module_of(name)), (blocks, block_of(name))):
            acc = groups.setdefault(key, [0, 0, 0])
            for j in range(3):
                acc[j] += counts[j]

    def fractions(groups: dict[str, list[int]]) -> dict[str, ChangedFraction]:
        return {k: ChangedFraction(n, c / max(n, 1), f / max(n, 1)) for k, (n, c, f) in groups.items()}

    return SparsityReport(
        dtype=str(dtype).removeprefix("torch."),
        tol=tol,
        total=total,
        changed=changed / max(total, 1),
        beyond_tol=beyond / max(total, 1),
        per_module=fractions(modules),
        per_block=fractions(blocks),
    )


def changed_mask(
    start: dict[str, Tensor], now: dict[str, Tensor], tol: float = 0.0, dtype: torch.dtype = torch.float32
) -> Tensor:
    """Flat bool mask of the parameters with |a - b| > tol (tol = 0: any change), in sorted name
    order, so masks of two runs from the same start line up for `changed_overlap`."""
    return torch.cat([_diff(a, b, tol, dtype)[1].cpu() for _, a, b in _pairs(start, now)])


def changed_overlap(mask_a: Tensor, mask_b: Tensor) -> dict[str, float | None]:
    """Do two updates touch the same parameters? Observed overlap against chance.

    n, a = |A|, b = |B|, overlap = |A & B|; expected = |A| |B| / n, the mean overlap of two random
    sets of those sizes; ratio = overlap / expected (1 = chance, > 1 = the same parameters);
    jaccard = |A & B| / |A | B|. ratio and jaccard are None when undefined (an empty set).
    """
    if mask_a.shape != mask_b.shape:
        raise ValueError(f"masks differ in shape: {tuple(mask_a.shape)} vs {tuple(mask_b.shape)}")
    a, b = mask_a.bool().flatten(), mask_b.bool().flatten()
    n, size_a, size_b = a.numel(), int(a.sum()), int(b.sum())
    overlap, union = int((a & b).sum()), int((a | b).sum())
    expected = size_a * size_b / n if n else 0.0
    return {
        "n": n,
        "a": size_a,
        "b": size_b,
        "overlap": overlap,
        "expected": expected,
        "ratio": overlap / expected if expected > 0 else None,
        "jaccard": overlap / union if union else None,
    }


# ---------------------------------------------------------------------------------- planning tokens

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


def split_entropy(
    entropy_per_token: Tensor, response_mask: Tensor, planning: Tensor
) -> tuple[float | None, float | None]:
    """(planning_mean, execution_mean): mean entropy over response tokens that are / are not planning
    tokens; None for a side with no tokens. All (N, R)."""
    plan, plan_n, execution, exec_n = split_entropy_sums(entropy_per_token, response_mask, planning)
    return (plan / plan_n if plan_n else None), (execution / exec_n if exec_n else None)
