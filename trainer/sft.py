"""Teacher-forced log-probs of SFT demonstrations: prompt + completion, loss on the completion only.

A row is laid out as a rollout is: the prompt left-padded, the completion right-padded after it, so the
forward computes scores at the completion positions only (`trainer.rollout.response_logits`): at a large
vocabulary the prompt's positions would otherwise cost as much memory as the completion's.
"""

from __future__ import annotations

import torch
from torch import Tensor

from trainer.batch import SFTRow
from trainer.rollout import completion_logprobs, left_pad


def pack(rows: list[SFTRow], pad_id: int, device: torch.device) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(prompt_ids, prompt_mask) (B, P) left-padded and (completion_ids, completion_mask) (B, C) right-padded."""
    prompt_ids, prompt_mask = left_pad([r.prompt_ids for r in rows], pad_id, device)
    width = max(len(r.completion_ids) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for b, row in enumerate(rows):
        ids[b, : len(row.completion_ids)] = torch.tensor(row.completion_ids, dtype=torch.long)
        mask[b, : len(row.completion_ids)] = 1
    return prompt_ids, prompt_mask, ids.to(device), mask.to(device)


def completion_token_count(rows: list[SFTRow]) -> int:
    return sum(len(r.completion_ids) for r in rows)


def sft_logprobs(
    model: torch.nn.Module, rows: list[SFTRow], pad_id: int, chunk: int | None = None
) -> tuple[Tensor, Tensor]:
    """(logprobs, mask), both (B, C): log p of every completion token given the prompt and the completion
    before it, and the mask of real completion tokens. `chunk`: as in `trainer.logits`."""
    device = next(model.parameters()).device
    prompt_ids, prompt_mask, ids, mask = pack(rows, pad_id, device)
    return completion_logprobs(model, prompt_ids, prompt_mask, ids, mask, 1.0, chunk), mask
