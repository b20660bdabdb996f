"""Held-out evaluation of every task: score (greedy), entropy and length of sampled answers.

- `score`: mean reward of the greedy completion of each eval prompt (graded alone, so a creative
  task's score is the fraction of valid answers);
- `entropy`: mean per-token entropy (nats) of the full next-token distribution at the evaluation
  temperature, over the tokens of one sampled completion per prompt (the model's own samples);
- `length`: mean tokens of the greedy completions.
"""

from __future__ import annotations

from typing import Callable

import torch

from trainer.batch import EvalSet
from trainer.model import Formatter
from trainer.rollout import generate


def _chunks(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    fmt: Formatter,
    eval_sets: list[EvalSet],
    *,
    max_new_tokens: int,
    temperature: float,
    batch_size: int,
    generator: torch.Generator,
    autocast: Callable = None,
) -> dict[str, dict[str, float]]:
    """{task: {"score", "entropy", "length"}} for every eval set."""
    prompts = [(s.task, p) for s in eval_sets for p in s.prompts]
    kwargs = dict(max_new_tokens=max_new_tokens, temperature=temperature, stop_ids=fmt.stop_ids, pad_id=fmt.pad_id)
    if autocast is not None:
        kwargs["autocast"] = autocast
    scores: dict[str, list[float]] = {s.task: [] for s in eval_sets}
    lengths: dict[str, list[float]] = {s.task: [] for s in eval_sets}
    entropy_sum = {s.task: 0.0 for s in eval_sets}
    entropy_tokens = {s.task: 0.0 for s in eval_sets}
    for chunk in _chunks(prompts, batch_size):
        ids = [p.prompt_ids for _, p in chunk]
        greedy = generate(model, ids, generator=None, greedy=True, **kwargs)
        sampled = generate(model, ids, generator=generator, with_entropy=True, **kwargs)
        for i, (task, prompt) in enumerate(chunk):
            completion = fmt.decode(greedy.response_ids[i].tolist())
            scores[task].append(float(prompt.grade([completion])[0]))
            lengths[task].append(float(greedy.lengths[i]))
            entropy_sum[task] += float(sampled.entropy[i].sum())
            entropy_tokens[task] += float(sampled.lengths[i])
    return {
        task: {
            "score": sum(scores[task]) / len(scores[task]),
            "entropy": entropy_sum[task] / max(entropy_tokens[task], 1.0),
            "length": sum(lengths[task]) / len(lengths[task]),
        }
        for task in scores
    }
