"""What the trainer consumes: a `Batch` per step (SFT rows and RL prompts, tokenized) and eval sets.

The trainer knows nothing of schedulers or catalogs: the stream (in `curriculum.stream`) turns each
decision into one of these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

Grader = Callable[[list[str]], list[float]]  # the G completions of one prompt -> their rewards


@dataclass(frozen=True)
class SFTRow:
    """A demonstration: the loss is on the completion tokens only (completion ends with the end token)."""

    task: str
    prompt_ids: list[int]
    completion_ids: list[int]


@dataclass(frozen=True)
class RLPrompt:
    """A prompt to roll out G times; `grade` scores the group (it holds the reference answer)."""

    task: str
    prompt_ids: list[int]
    grade: Grader = field(compare=False)


@dataclass
class Batch:
    """One step's data, as its decision asked: `(1 - mu) * L_RL + mu * L_SFT`."""

    step: int
    stage: str
    mu: float
    sft_weighting: str
    sft: list[SFTRow]
    rl: list[RLPrompt]


@dataclass
class EvalSet:
    """A task's held-out prompts (graded one completion at a time)."""

    task: str
    kind: str
    prompts: list[RLPrompt]
