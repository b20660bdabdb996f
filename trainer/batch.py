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
    """A prompt to roll out G times; `grade` scores the group (it holds the reference answer);
    `demo` is its demonstration's completion text, if it has one (what gating trains when all G fail;
    tokenized only then)."""

    task: str
    prompt_ids: list[int]
    grade: Grader = field(compare=False)
    demo: str | None = None
    planning: object = field(default=None, compare=False)  # the task's planning markers, if any


@dataclass
class Batch:
    """One step's data, as its decision asked: `(1 - mu) * L_RL + mu * L_SFT`, with `task_mu` overriding
    mu for a task's rows, `gate_below` turning all-failed prompts into SFT rows, `drop_zero_variance`
    dropping groups with equal rewards (see `schedulers.base.Decision`)."""

    step: int
    stage: str
    mu: float
    sft_weighting: str
    sft: list[SFTRow]
    rl: list[RLPrompt]
    task_mu: dict[str, float] = field(default_factory=dict)
    gate_below: float | None = None
    drop_zero_variance: bool = False

    def mu_for(self, task: str) -> float:
        return self.task_mu.get(task, self.mu)


@dataclass
class EvalSet:
    """A task's held-out prompts (graded one completion at a time)."""

    task: str
    kind: str
    prompts: list[RLPrompt]
    planning: object = None  # the task's planning markers (phrases or a regex), if any
