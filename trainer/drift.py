"""Drift from the base model, as pure functions (RL's Razor, arXiv 2509.04259: forward KL from the base on
a task's prompts predicts forgetting).

- `kl_to_base`: forward KL(base || policy), exact over the vocabulary at each position of base-sampled
  completions.
- `k3_sum`: the cheap k3 estimate of the other direction, KL(policy || ref), on the policy's samples.
"""

from __future__ import annotations

import contextlib
from typing import Callable

import torch
from torch import Tensor

from trainer.logits import Scores, row_slices, spans
from trainer.losses import k3
from trainer.model import Formatter
from trainer.rollout import generate, response_scores, seq_tokens


def position_kl(base_logits: Tensor, policy_logits: Tensor, temperature: float = 1.0) -> Tensor:
    """Exact KL(base || policy) of the next-token distributions at each position. (..., V) x2 -> (...).

        KL_t = sum_v p_base(v) * (log p_base(v) - log p_policy(v)),  p = softmax(logits / temperature)

    A vocabulary entry the base gives probability 0 (a -inf logit) contributes 0. Where the two
    distributions agree, float32 rounding can leave about -1e-9; each position is clamped at 0, the
    exact value's lower bound.
    """
    base_logp = (base_logits.float() / temperature).log_softmax(dim=-1)
    terms = (policy_logits.float() / temperature).log_softmax(dim=-1).neg_().add_(base_logp)  # log p_b - log p_p
    base_p = base_logp.exp_()  # in place: two vocabulary-sized float32 tensors at a time, not six
    terms.mul_(base_p).masked_fill_(base_p == 0, 0.0)
    return terms.sum(dim=-1).clamp_min(0.0)


def scores_kl(base: Scores, policy: Scores, temperature: float, chunk: int | None) -> Tensor:
    """`position_kl` of two models' scores at the same B rows and T positions, at most `chunk` positions at a
    time (None: all) -> (B, T), on the base's device."""
    parts = spans(base.rows, base.length, chunk or base.rows * base.length)
    out = []
    for s in parts:
        base_s = base.at(s)
        out.append(position_kl(base_s, policy.at(s).to(base_s.device), temperature))
    return torch.cat(out, dim=1)


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
    tally: list[int] | None = None,
    chunk: int | None = None,
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
    Non-negative; 0 when the two models agree. `batch_size` bounds the sequences per decoding call; `chunk`
    (positions, `trainer.logits`) bounds the sequences of each teacher-forced pass and the positions whose
    float32 scores are held at once.
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
            if tally is not None:  # sampled by the base, then teacher-forced through both models
                tally.append(3 * seq_tokens(out))
            for rows in row_slices(len(repeated), out.response_ids.shape[1], chunk):
                args = (out.prompt_ids[rows], out.prompt_mask[rows], out.response_ids[rows], out.response_mask[rows])
                with autocast():
                    base_scores = response_scores(base, *args)
                    policy_scores = response_scores(policy, *(a.to(policy_device) for a in args))
                    kl = scores_kl(base_scores, policy_scores, temperature, chunk)
                del base_scores, policy_scores
                mask = args[3].to(kl.dtype)
                total += (kl * mask).sum().double().cpu()
                tokens += float(mask.sum())
    return float(total) / max(tokens, 1.0)


def k3_sum(policy_logprobs: Tensor, ref_logprobs: Tensor, mask: Tensor) -> Tensor:
    """The sum of k3 over the tokens in `mask`, from the policy's OWN samples; divided by the token count it
    is the k3 estimate of KL(policy || ref).

        delta_t = log p_ref(y_t) - log p_policy(y_t),   k3_t = exp(delta_t) - delta_t - 1

    Each k3_t >= 0 and its expectation under the policy is KL(policy || ref) (Schulman's k3; the term
    GRPO adds to its loss). It is the other direction from `kl_to_base`, and only an estimate from the
    sampled tokens: cheap (no extra sampling, no full vocabulary), noisier. Positions outside `mask`
    count 0 even where a padded log-prob is infinite. All inputs (B, T)."""
    per_token = k3(policy_logprobs.float(), ref_logprobs.float())
    return torch.where(mask.bool(), per_token, torch.zeros_like(per_token)).sum()
