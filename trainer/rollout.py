"""Sampling with a KV cache, and teacher-forced log-probs of sampled completions.

`generate` is the project's own decoding loop rather than `model.generate`: it draws from a generator
passed in (so the same seed gives the same samples, whatever else used the global RNG), keeps each
sampled token's log-prob at the sampling temperature, and can record the full next-token entropy at
every step for evaluation. Prompts are left-padded; position ids skip the padding.
"""

from __future__ import annotations

import contextlib
import inspect
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from trainer.logits import Scores, fused_head, head_logprobs, logprobs
from trainer.losses import token_entropy, token_logprobs
from trainer.runtime import Diverged


@dataclass
class Rollouts:
    """N sampled completions. P = padded prompt length, R = longest completion."""

    prompt_ids: Tensor  # (N, P) left-padded
    prompt_mask: Tensor  # (N, P) 1 on real prompt tokens
    response_ids: Tensor  # (N, R) right-padded with pad
    response_mask: Tensor  # (N, R) 1 on sampled tokens, up to and including the stop token
    logprobs: Tensor  # (N, R) log p of each sampled token at the sampling temperature
    entropy: Tensor | None = None  # (N, R) entropy of the full next-token distribution, if asked

    @property
    def lengths(self) -> Tensor:
        return self.response_mask.sum(dim=1)


def seq_tokens(rollouts: Rollouts) -> int:
    """Prompt + completion tokens of the rows (padding not counted): what one pass over them costs."""
    return int(rollouts.prompt_mask.sum() + rollouts.response_mask.sum())


def left_pad(prompts: list[list[int]], pad_id: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """(ids, mask), both (N, P), prompts aligned to the right."""
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for i, p in enumerate(prompts):
        ids[i, width - len(p) :] = torch.tensor(p, dtype=torch.long)
        mask[i, width - len(p) :] = 1
    return ids.to(device), mask.to(device)


def positions(mask: Tensor) -> Tensor:
    """Position ids that start at 0 on the first real token (padding gets 0 too)."""
    return (mask.cumsum(dim=1) - 1).clamp(min=0)


def _cache_arg(model: torch.nn.Module) -> str:
    """transformers renamed the KV-cache argument of forward from `past_key_values` to `cache` (5.23+)."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


@torch.no_grad()
def generate(
    model: torch.nn.Module,
    prompts: list[list[int]],
    *,
    max_new_tokens: int,
    temperature: float,
    generator: torch.Generator | None,
    stop_ids: list[int],
    pad_id: int,
    greedy: bool = False,
    with_entropy: bool = False,
    autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
    part: tuple[list[int], int] | None = None,
) -> Rollouts:
    """Decode each prompt once (repeat a prompt G times in `prompts` for a group).

    Sampling draws from softmax(logits / temperature) with `generator`; `greedy` takes the argmax
    (log-probs are then still at `temperature`). Stops when every row has emitted a stop token.

    Only the live rows are decoded: when rows stop, their key-value cache rows are dropped and the next
    forwards take the others only. The sampler still draws for every row (a finished row keeps its last
    scores and its token is replaced by padding), so each row draws the same random numbers as when every
    row was decoded to the end.

    `part` = (rows, total): `prompts` are these rows (increasing) of a batch of `total` rows, the rest decoded
    elsewhere (another rank). The sampler draws for the whole batch, the other rows holding placeholder
    scores: a row's draw depends only on the generator and the row's place in the batch, so each row gets the
    token it would get if the whole batch were decoded here.
    """
    device = next(model.parameters()).device
    if not prompts:  # a rank with no rows of this batch
        empty = torch.zeros((0, 0), dtype=torch.long, device=device)
        return Rollouts(empty, empty, empty, empty, empty.float(), empty.float() if with_entropy else None)
    was_training = model.training
    model.eval()
    ids, mask = left_pad(prompts, pad_id, device)
    n = ids.shape[0]
    cache_arg = _cache_arg(model)
    # only the last position's scores are read: a model that can skips the others (at a 150k vocabulary the
    # prefill's logits would be prompt length x vocabulary per row)
    last_only = {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(model.forward).parameters else {}
    stop = torch.tensor(stop_ids, device=device)
    out_ids, out_logp, out_ent = [], [], []
    done = torch.zeros(n, dtype=torch.bool, device=device)
    alive = []
    live = torch.arange(n, device=device)  # the rows decoded by the next forward
    step_ids, live_mask, pos = ids, mask, positions(mask)
    cache, logits = None, None
    for _ in range(max_new_tokens):
        with autocast():
            out = model(
                input_ids=step_ids,
                attention_mask=live_mask,
                position_ids=pos,
                use_cache=True,
                **{cache_arg: cache},
                **last_only,
            )
        cache = getattr(out, cache_arg)
        scores = out.logits[:, -1, :].float()  # (live rows, V)
        if logits is None or len(live) == n:
            logits = scores  # (N, V)
        else:
            logits = logits.index_copy(0, live, scores)  # finished rows keep their last scores
        if greedy:
            _check_scores(logits)
            token = logits.argmax(dim=-1)
        else:
            probs = (logits / temperature).softmax(dim=-1)
            if not bool(torch.isfinite(probs).all()):  # one pass per token; the cause is looked for only here
                _check_scores(logits)
                raise Diverged(
                    f"the sampling probabilities at temperature {temperature:g} are not finite (the scores divided "
                    "by it overflow): raise the temperature"
                )
            token = _sample(probs, generator, part)
        token = torch.where(done, torch.full_like(token, pad_id), token)
        alive.append(~done)
        out_ids.append(token)
        out_logp.append(token_logprobs(logits.unsqueeze(1), token.unsqueeze(1), temperature).squeeze(1))
        if with_entropy:
            out_ent.append(token_entropy(logits, temperature))
        done = done | torch.isin(token, stop)
        if bool(done.all()):
            break
        going = ~done[live]
        if not bool(going.all()) and _can_drop_rows(cache):
            keep = going.nonzero().squeeze(1)
            cache.batch_select_indices(keep)
            live, live_mask, pos = live[keep], live_mask[keep], pos[keep]
        step_ids = token[live].unsqueeze(1)
        live_mask = torch.cat([live_mask, torch.ones((len(live), 1), dtype=mask.dtype, device=device)], dim=1)
        pos = pos[:, -1:] + 1
    if was_training:
        model.train()
    response_mask = torch.stack(alive, dim=1).long()
    return Rollouts(
        prompt_ids=ids,
        prompt_mask=mask,
        response_ids=torch.stack(out_ids, dim=1),
        response_mask=response_mask,
        logprobs=torch.stack(out_logp, dim=1) * response_mask,
        entropy=(torch.stack(out_ent, dim=1) * response_mask) if with_entropy else None,
    )


def _sample(probs: Tensor, generator: torch.Generator | None, part: tuple[list[int], int] | None) -> Tensor:
    """One token per row; with `part`, drawn at the rows' places in the whole batch (`generate`)."""
    if part is None:
        return torch.multinomial(probs, 1, generator=generator).squeeze(1)
    rows, total = part
    index = torch.tensor(rows, dtype=torch.long, device=probs.device)
    whole = torch.full((total, probs.shape[1]), 1.0 / probs.shape[1], dtype=probs.dtype, device=probs.device)
    whole.index_copy_(0, index, probs)
    return torch.multinomial(whole, 1, generator=generator).squeeze(1).index_select(0, index)


def _can_drop_rows(cache: object) -> bool:
    """Whether finished rows can leave this key-value cache: only plain key/value layers (full or sliding
    window) drop rows whole; a linear-attention, static, quantized or hybrid layer keeps other state, so its
    rows are all decoded to the end."""
    from transformers.cache_utils import DynamicLayer, DynamicSlidingWindowLayer

    layers = getattr(cache, "layers", None)
    return bool(layers) and all(type(layer) in (DynamicLayer, DynamicSlidingWindowLayer) for layer in layers)


def _teacher_forced(prompt_ids: Tensor, prompt_mask: Tensor, response_ids: Tensor, response_mask: Tensor) -> dict:
    """The forward's arguments for prompt (left-padded) + response (right-padded). Padding after the stop token
    is masked out of attention; every position still gets a position id; no key-value cache is kept."""
    return {
        "input_ids": torch.cat([prompt_ids, response_ids], dim=1),
        "attention_mask": torch.cat([prompt_mask, response_mask], dim=1),
        "position_ids": positions(torch.cat([prompt_mask, torch.ones_like(response_mask)], dim=1)),
        "use_cache": False,
    }


def _check_scores(logits: Tensor) -> None:
    """Diverged when next-token scores hold NaN or +inf (-inf is a ruled-out token, not an error)."""
    if bool((torch.isnan(logits) | torch.isposinf(logits)).any()):
        raise Diverged(
            "the model's next-token scores contain NaN or infinity while decoding: its weights are broken "
            "(a diverged update, or a dtype that overflows: try model.dtype: float32)"
        )


def response_logits(
    model: torch.nn.Module, prompt_ids: Tensor, prompt_mask: Tensor, response_ids: Tensor, response_mask: Tensor
) -> Tensor:
    """Teacher-forced next-token logits at each response position, (N, R, V): only the last R + 1 positions'
    logits are computed (`logits_to_keep`), which matters for large vocabularies."""
    r = response_ids.shape[1]
    out = model(**_teacher_forced(prompt_ids, prompt_mask, response_ids, response_mask), logits_to_keep=r + 1)
    return out.logits[:, -(r + 1) : -1, :]  # position P-1+t predicts response token t


def response_scores(
    model: torch.nn.Module, prompt_ids: Tensor, prompt_mask: Tensor, response_ids: Tensor, response_mask: Tensor
) -> Scores:
    """The teacher-forced scores at each response position, made a span at a time when the model allows it
    (`trainer.logits.fused_head`: its last hidden states, (N, R, H), and its output projection), else its
    logits (`response_logits`)."""
    fused = fused_head(model)
    if fused is None:
        return Scores(logits=response_logits(model, prompt_ids, prompt_mask, response_ids, response_mask))
    decoder, head = fused
    r = response_ids.shape[1]
    hidden = decoder(**_teacher_forced(prompt_ids, prompt_mask, response_ids, response_mask)).last_hidden_state
    return Scores(hidden=hidden[:, -(r + 1) : -1, :], weight=head.weight)


def completion_logprobs(
    model: torch.nn.Module,
    prompt_ids: Tensor,
    prompt_mask: Tensor,
    response_ids: Tensor,
    response_mask: Tensor,
    temperature: float = 1.0,
    chunk: int | None = None,
) -> Tensor:
    """Teacher-forced log p of each response token (with gradient), at `temperature`. (N, R). `chunk`: the
    positions whose float32 scores are held at once (`trainer.logits`)."""
    scores = response_scores(model, prompt_ids, prompt_mask, response_ids, response_mask)
    if scores.logits is not None:
        return logprobs(scores.logits, response_ids, temperature, chunk)
    return head_logprobs(scores.hidden, scores.weight, response_ids, temperature, chunk)
