"""Full-vocabulary quantities in bounded memory.

At a real vocabulary (151,936 for Qwen) one position's float32 scores take 0.6 MB, so a (rows x positions x
vocabulary) tensor and its float32 copies are what fills a GPU first. Everything here works on at most
`chunk` positions at a time in float32:

- `logprobs`: log p(target) with a hand-written backward. The forward keeps only the model's logits (in the
  compute dtype) and one log-sum-exp per position; the backward writes the gradient of the logits chunk by
  chunk, (1[v = y] - softmax(x / T)_v) * g / T. Peak beyond the logits and their gradient: one chunk of
  float32 scores and its softmax (about 2 x chunk x V x 4 bytes), where the plain autograd expression keeps
  float32 copies, the softmax and a scattered one-hot of the whole tensor.
- `row_slices`: how many sequences of a no-grad teacher-forced pass keep its logits within `chunk`
  positions (evaluation's KL and k3 probes).

`chunk` is `training.logit_chunk` (positions); the budget is documented there.
"""

from __future__ import annotations

import torch
from torch import Tensor


def spans(batch: int, length: int, chunk: int) -> list[slice]:
    """Slices of the position axis, each covering at most `chunk` positions over all `batch` rows."""
    step = max(1, chunk // max(batch, 1))
    return [slice(s, min(s + step, length)) for s in range(0, length, step)]


class _LogProbs(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits: Tensor, targets: Tensor, temperature: float, chunk: int) -> Tensor:
        batch, length, _ = logits.shape
        out = torch.empty((batch, length), dtype=torch.float32, device=logits.device)
        lse = torch.empty_like(out)
        for s in spans(batch, length, chunk):
            x = logits[:, s].float() / temperature
            lse[:, s] = x.logsumexp(dim=-1)
            out[:, s] = x.gather(-1, targets[:, s].unsqueeze(-1)).squeeze(-1) - lse[:, s]
        ctx.save_for_backward(logits, targets, lse)
        ctx.temperature, ctx.chunk = temperature, chunk
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        logits, targets, lse = ctx.saved_tensors
        temperature = ctx.temperature
        grad_logits = torch.empty_like(logits)
        batch, length, _ = logits.shape
        for s in spans(batch, length, ctx.chunk):
            g = grad[:, s].float().unsqueeze(-1)  # (B, c, 1)
            # d log p(y) / d x_v = (1[v = y] - p_v) / T
            part = ((logits[:, s].float() / temperature) - lse[:, s].unsqueeze(-1)).exp_().mul_(-g)
            part.scatter_add_(-1, targets[:, s].unsqueeze(-1), g)
            grad_logits[:, s] = part.div_(temperature).to(logits.dtype)
        return grad_logits, None, None, None


def logprobs(logits: Tensor, targets: Tensor, temperature: float = 1.0, chunk: int | None = None) -> Tensor:
    """log p(target) under softmax(logits / temperature), float32, differentiable. logits (B, T, V), targets
    (B, T) -> (B, T). `chunk`: positions held in float32 at once (None: all)."""
    batch, length, _ = logits.shape
    return _LogProbs.apply(logits, targets, temperature, chunk or batch * length)


def row_slices(rows: int, length: int, chunk: int | None) -> list[slice]:
    """The rows of each no-grad teacher-forced pass over `rows` sequences with `length` scored positions each:
    as many per pass as keep the pass within `chunk` positions (at least 1; all rows when chunk is None)."""
    per_pass = rows if chunk is None else max(1, min(rows, chunk // max(length, 1)))
    return [slice(i, min(i + per_pass, rows)) for i in range(0, rows, max(per_pass, 1))]
