"""Update sparsity, as pure functions: which parameters moved since the start, in float32 or after bf16
rounding, and whether two runs moved the same ones (RL touches a small, consistent slice of the
parameters in bf16: arXiv 2505.11711).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


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


def snapshot(model: torch.nn.Module) -> dict[str, Tensor]:
    """The model's parameters as float32 CPU copies (tied weights once): the `start` to compare with.
    A full-precision copy of the weights: for a large model, mind host memory."""
    return {name: p.detach().float().cpu().clone() for name, p in model.named_parameters()}


def module_of(name: str) -> str:
    """`model.layers.0.self_attn.q_proj.weight` -> `model.layers.0.self_attn.q_proj`."""
    return name.rsplit(".", 1)[0] if "." in name else name


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
    for name, a, b in _pairs(start, now):
        exact, far = _diff(a, b, tol, dtype)
        counts = (exact.numel(), int(exact.sum()), int(far.sum()))
        total, changed, beyond = total + counts[0], changed + counts[1], beyond + counts[2]
        acc = modules.setdefault(module_of(name), [0, 0, 0])
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
