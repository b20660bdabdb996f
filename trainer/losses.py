"""Losses as pure functions of tensors. Shapes: B rows, T tokens; `mask` is 1 on the tokens that count.

Each part is normalized over its own population (SFT tokens, RL response tokens). Pass `num_tokens`
(the count over the whole step) when a part is split into micro-batches, so the sum of the
micro-batch losses equals the loss of the whole part and `mu` keeps its meaning under any batch size
or gradient accumulation. `trainer.step.train_step` mixes the two parts: L = (1 - mu) * L_RL + mu * L_SFT.
"""

from __future__ import annotations

import torch
from torch import Tensor

from curriculum.records import SFT_WEIGHTINGS


def _denominator(mask: Tensor, num_tokens: float | None) -> Tensor | float:
    return mask.sum().clamp(min=1) if num_tokens is None else max(float(num_tokens), 1.0)


def sft_loss(logprobs: Tensor, mask: Tensor, weighting: str = "none", num_tokens: float | None = None) -> Tensor:
    """Token-mean negative log-likelihood of the demonstration tokens, optionally token-weighted.

        L_SFT = -sum_t w_t * log p_t * mask_t / N_tokens

    `weighting`: `none` (w = 1); `phi` (w = p (1 - p), CHORD's token weight, arXiv 2508.11408 eq. 6,
    which down-weights tokens the policy already predicts confidently and tokens it finds very
    unlikely); `is` (w = p, an importance-sampling-like weight). w is under stop-gradient. As in
    CHORD, the mean is over the token count, not over the sum of the weights.

    logprobs: (B, T) log p of each target token; mask: (B, T).
    """
    p = logprobs.detach().exp()
    if weighting == "none":
        weight = torch.ones_like(p)
    elif weighting == "phi":
        weight = p * (1.0 - p)
    elif weighting == "is":
        weight = p
    else:
        raise ValueError(f"unknown SFT weighting {weighting!r}; known: {', '.join(SFT_WEIGHTINGS)}")
    return -(weight * logprobs * mask).sum() / _denominator(mask, num_tokens)


def group_advantages(rewards: Tensor, eps: float = 1e-6) -> Tensor:
    """GRPO advantages: each reward normalized within its prompt's group of G rollouts.

        A_i = (r_i - mean(r)) / (std(r) + eps)

    std is the sample standard deviation (Bessel's correction, as TRL's GRPO). A group whose rewards
    are all equal gets A = 0 (it carries no learning signal). rewards: (P, G) -> (P, G).
    """
    mean = rewards.mean(dim=1, keepdim=True)
    std = rewards.std(dim=1, keepdim=True)
    return (rewards - mean) / (std + eps)


def k3(logprobs: Tensor, ref_logprobs: Tensor) -> Tensor:
    """Schulman's k3 per token: delta = log p_ref - log p, k3 = exp(delta) - delta - 1 (>= 0); its mean
    over the policy's own samples estimates KL(policy || ref)."""
    delta = ref_logprobs - logprobs
    return delta.exp() - delta - 1.0


def grpo_loss(
    logprobs: Tensor,
    old_logprobs: Tensor,
    advantages: Tensor,
    mask: Tensor,
    clip_low: float = 0.2,
    clip_high: float = 0.2,
    ref_logprobs: Tensor | None = None,
    kl_coef: float = 0.0,
    num_tokens: float | None = None,
    planning_mask: Tensor | None = None,
    hicra_alpha: float = 0.2,
) -> tuple[Tensor, dict[str, Tensor]]:
    """The GRPO clipped surrogate, token-mean over all response tokens (DeepSeekMath eq. 3, with the
    token-level mean of DAPO rather than a per-sequence mean).

        ratio_t = exp(log pi(t) - log pi_old(t))
        L_t     = -min(ratio_t * A, clip(ratio_t, 1 - clip_low, 1 + clip_high) * A)
                  + kl_coef * k3_t,   k3_t = exp(ref_t - logp_t) - (ref_t - logp_t) - 1
        L_RL    = sum_t L_t * mask_t / N_tokens

    `clip_high > clip_low` is the asymmetric ("clip-higher") variant. k3 is the unbiased,
    non-negative estimator of KL(pi || pi_ref) on the policy's own samples.

    HICRA (arXiv 2509.03646), when `planning_mask` is given: planning tokens get the advantage
    A + hicra_alpha * |A| (credit concentrated on planning: more reward when A > 0, less blame when
    A < 0); execution tokens keep A. Without it the loss is exactly GRPO's.

    logprobs, old_logprobs, mask, ref_logprobs, planning_mask: (B, T); advantages: (B,) one per rollout.
    Returns the loss and diagnostics: clip_frac (tokens whose ratio was clipped against the
    advantage), approx_kl (k3 estimate of KL(pi_old || pi) on pi_old's samples), kl (k3 against
    the reference, when given).
    """
    adv = advantages.unsqueeze(1)  # (B, 1), broadcast over tokens
    if planning_mask is not None:
        adv = adv + hicra_alpha * adv.abs() * planning_mask.to(adv.dtype)  # (B, T)
    log_ratio = logprobs - old_logprobs
    ratio = log_ratio.exp()
    clipped = ratio.clamp(1.0 - clip_low, 1.0 + clip_high)
    per_token = -torch.minimum(ratio * adv, clipped * adv)
    denom = _denominator(mask, num_tokens)
    stats: dict[str, Tensor] = {}
    if ref_logprobs is not None and kl_coef > 0:
        kl = k3(logprobs, ref_logprobs)
        per_token = per_token + kl_coef * kl
        stats["kl"] = ((kl * mask).sum() / denom).detach()
    loss = (per_token * mask).sum() / denom
    with torch.no_grad():
        was_clipped = ((ratio < 1.0 - clip_low) & (adv < 0)) | ((ratio > 1.0 + clip_high) & (adv > 0))
        stats["clip_frac"] = (was_clipped.float() * mask).sum() / denom
        stats["approx_kl"] = (((ratio - 1.0) - log_ratio) * mask).sum() / denom
    return loss, stats


def token_logprobs(logits: Tensor, targets: Tensor, temperature: float = 1.0) -> Tensor:
    """log p(target) under softmax(logits / temperature). logits: (B, T, V); targets: (B, T) -> (B, T)."""
    logits = logits.float() / temperature
    return logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - logits.logsumexp(dim=-1)


def token_entropy(logits: Tensor, temperature: float = 1.0) -> Tensor:
    """Entropy (nats) of the full next-token distribution softmax(logits / T). (..., V) -> (...)."""
    logp = (logits.float() / temperature).log_softmax(dim=-1)
    return -(logp.exp() * logp).sum(dim=-1)
