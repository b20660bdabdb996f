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

Where the model's scores are exactly `lm_head(decoder(...))` (checked once per model by `fused_head`), the
scores are never made for all positions at once: `head_logprobs` projects the decoder's last hidden states
chunk by chunk, in the forward and again in the backward (which accumulates the gradient of the hidden
states and of the projection's weight), and `Scores` hands the KL probe one span of positions at a time.
Peak: the hidden states (positions x hidden) and a few chunk x V float32 tensors, whatever the batch.

`chunk` is `training.logit_chunk` (positions); the budget is documented there.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

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


def _matmul_dtype(hidden: Tensor) -> torch.dtype:
    """The dtype the projection runs in: autocast's where it is on (as the model's own head would), else the
    hidden states'."""
    device = hidden.device.type
    return torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else hidden.dtype


class _HeadLogProbs(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden: Tensor, weight: Tensor, targets: Tensor, temperature: float, chunk: int) -> Tensor:
        dtype = _matmul_dtype(hidden)
        w = weight.to(dtype)
        n = hidden.shape[0]
        out = torch.empty(n, dtype=torch.float32, device=hidden.device)
        lse = torch.empty_like(out)
        for s in spans(1, n, chunk):
            x = (hidden[s].to(dtype) @ w.T).float() / temperature  # (c, V)
            lse[s] = x.logsumexp(dim=-1)
            out[s] = x.gather(-1, targets[s].unsqueeze(-1)).squeeze(-1) - lse[s]
        ctx.save_for_backward(hidden, weight, targets, lse)
        ctx.temperature, ctx.chunk, ctx.dtype = temperature, chunk, dtype
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        hidden, weight, targets, lse = ctx.saved_tensors
        temperature, dtype = ctx.temperature, ctx.dtype
        w = weight.to(dtype)
        grad_hidden = torch.empty_like(hidden)
        grad_weight = torch.zeros_like(weight) if ctx.needs_input_grad[1] else None
        for s in spans(1, hidden.shape[0], ctx.chunk):
            h = hidden[s].to(dtype)
            g = grad[s].float().unsqueeze(-1)  # (c, 1)
            # d log p(y) / d x_v = (1[v = y] - p_v) / T, for the scores x = h W^T
            d = ((h @ w.T).float().div_(temperature) - lse[s].unsqueeze(-1)).exp_().mul_(-g)
            d.scatter_add_(-1, targets[s].unsqueeze(-1), g)
            d = d.div_(temperature).to(dtype)
            grad_hidden[s] = (d @ w).to(hidden.dtype)
            if grad_weight is not None:
                grad_weight += (d.T @ h).to(weight.dtype)
        return grad_hidden, grad_weight, None, None, None


def head_logprobs(
    hidden: Tensor, weight: Tensor, targets: Tensor, temperature: float = 1.0, chunk: int | None = None
) -> Tensor:
    """log p(target) under softmax(hidden W^T / temperature), never holding more than `chunk` positions' scores.
    hidden (B, T, H), weight (V, H), targets (B, T) -> (B, T) float32, differentiable in hidden and weight."""
    batch, length, size = hidden.shape
    flat = hidden.reshape(batch * length, size)
    out = _HeadLogProbs.apply(flat, weight, targets.reshape(-1), temperature, chunk or batch * length)
    return out.reshape(batch, length)


@dataclass
class Scores:
    """A model's next-token scores at the scored positions of B rows, made a span at a time: from logits the
    model computed (`logits`, (B, T, V)), or from its last hidden states and output projection."""

    logits: Tensor | None = None
    hidden: Tensor | None = None  # (B, T, H)
    weight: Tensor | None = None  # (V, H)

    @property
    def rows(self) -> int:
        return (self.logits if self.logits is not None else self.hidden).shape[0]

    @property
    def length(self) -> int:
        return (self.logits if self.logits is not None else self.hidden).shape[1]

    def at(self, span: slice) -> Tensor:
        if self.logits is not None:
            return self.logits[:, span]
        dtype = _matmul_dtype(self.hidden)
        return self.hidden[:, span].to(dtype) @ self.weight.to(dtype).T


_FUSED: "weakref.WeakKeyDictionary[torch.nn.Module, bool]" = weakref.WeakKeyDictionary()
FUSED_TOLERANCE = 1e-4  # float32 scores: the model's own head against decoder + projection


def fused_head(model: torch.nn.Module) -> tuple[torch.nn.Module, torch.nn.Linear] | None:
    """(decoder, output projection) when the model's scores are exactly the projection of the decoder's last
    hidden states (Llama, Qwen, Mistral, GPT-2, OPT, ...; not a model that caps or scales its scores, or whose
    head has a bias): checked once per model on a short input in float32 against its own forward. None: use
    the model's logits."""
    if model in _FUSED:
        return (model.get_decoder(), model.get_output_embeddings()) if _FUSED[model] else None
    ok = False
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if isinstance(head, torch.nn.Linear) and head.bias is None and hasattr(model, "get_decoder"):
        ok = _agrees(model, head)
    _FUSED[model] = ok
    return fused_head(model)


def _agrees(model: torch.nn.Module, head: torch.nn.Linear) -> bool:
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    device = head.weight.device
    ids = torch.arange(1, 7, device=device).remainder(head.weight.shape[0]).unsqueeze(0)
    try:
        with torch.no_grad(), torch.autocast(device.type, enabled=False):
            full = model(input_ids=ids, use_cache=False).logits.float()
            hidden = model.get_decoder()(input_ids=ids, use_cache=False).last_hidden_state
            ours = (hidden @ head.weight.T).float()
        return ours.shape == full.shape and bool((ours - full).abs().max() <= FUSED_TOLERANCE)
    except Exception:  # a decoder that cannot be called on its own: the model's logits it is
        return False
    finally:
        for m, mode in modes:
            m.training = mode


def row_slices(rows: int, length: int, chunk: int | None) -> list[slice]:
    """The rows of each no-grad teacher-forced pass over `rows` sequences with `length` scored positions each:
    as many per pass as keep the pass within `chunk` positions (at least 1; all rows when chunk is None)."""
    per_pass = rows if chunk is None else max(1, min(rows, chunk // max(length, 1)))
    return [slice(i, min(i + per_pass, rows)) for i in range(0, rows, max(per_pass, 1))]
