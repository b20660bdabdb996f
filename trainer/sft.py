"""Teacher-forced log-probs of SFT demonstrations: prompt + completion, loss on the completion only."""

from __future__ import annotations

import torch
from torch import Tensor

from trainer.batch import SFTRow
from trainer.losses import token_logprobs


def pack(rows: list[SFTRow], pad_id: int, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
    """(input_ids, attention_mask, loss_mask), each (B, T), right-padded.

    loss_mask[b, t] = 1 when token t + 1 is a completion token: position t predicts token t + 1.
    """
    seqs = [r.prompt_ids + r.completion_ids for r in rows]
    width = max(len(s) for s in seqs)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    loss_mask = torch.zeros((len(rows), width - 1), dtype=torch.long)
    for b, (row, seq) in enumerate(zip(rows, seqs)):
        ids[b, : len(seq)] = torch.tensor(seq)
        attention[b, : len(seq)] = 1
        loss_mask[b, len(row.prompt_ids) - 1 : len(seq) - 1] = 1
    return ids.to(device), attention.to(device), loss_mask.to(device)


def completion_token_count(rows: list[SFTRow]) -> int:
    return sum(len(r.completion_ids) for r in rows)


def sft_logprobs(model: torch.nn.Module, rows: list[SFTRow], pad_id: int) -> tuple[Tensor, Tensor]:
    """(logprobs, mask), both (B, T-1): log p of every next token, mask on completion tokens."""
    device = next(model.parameters()).device
    ids, attention, loss_mask = pack(rows, pad_id, device)
    logits = model(input_ids=ids, attention_mask=attention).logits[:, :-1, :]
    return token_logprobs(logits, ids[:, 1:]), loss_mask
