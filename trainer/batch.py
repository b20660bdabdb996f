"""What the trainer consumes: a `Batch` per step (its decision, SFT rows and RL prompts, tokenized) and
eval sets.

The trainer knows nothing of schedulers or catalogs: the run's stream turns each decision into one of
these. The decision travels with its rows: `train_step` reads mu, the per-task mu, the SFT weighting,
the gate and the zero-variance drop from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from curriculum.records import Decision

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
    planning: list[str] | str | None = field(default=None, compare=False)  # the task's planning markers, if any


@dataclass(frozen=True)
class Batch:
    """One step's data, as its decision asked: `decision.sft[task]` rows and `decision.rl[task]` prompts."""

    decision: Decision
    sft: list[SFTRow]
    rl: list[RLPrompt]


@dataclass(frozen=True)
class EvalSet:
    """A task's held-out prompts (graded one completion at a time) and how to read a completion's answer."""

    task: str
    kind: str
    prompts: list[RLPrompt]
    extract: Callable[[str], str]  # a completion -> its answer part (what `unique` counts distinct)
    planning: list[str] | str | None = None  # the task's planning markers (phrases or a regex), if any
