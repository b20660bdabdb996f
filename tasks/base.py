"""What a task is: records of data, a reward over a group of completions, and the Task protocol.

A `Record` is one row: a prompt, optionally a demonstration (`completion`, the SFT target) and a
reference `answer`, plus any other fields of the source row (`meta`). A `Reward` scores the G
completions sampled for one record together, so that creative tasks can reward novelty within the
group. A `Task` owns its data and its grader: SFT demonstrations, RL prompts, a held-out eval set, the
reward that scores both RL rollouts and evaluation, and `extract`, the answer part of a completion as
that reward reads it (so "distinct answers" means the same thing on any task).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from curriculum.records import TaskKind

ANSWER_MARK = "=>"


@dataclass(frozen=True)
class Record:
    """One row of task data."""

    prompt: str
    completion: str | None = None
    answer: str | None = None
    meta: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """The row as user code sees it: prompt, completion, answer and the other fields."""
        return {**self.meta, "prompt": self.prompt, "completion": self.completion, "answer": self.answer}


def final_answer(completion: str) -> str:
    """The answer part of a completion: the text after the last `=>` (expert style puts a worked
    scratchpad before it), or the whole completion (base style), stripped."""
    return completion.rsplit(ANSWER_MARK, 1)[-1].strip()


Extract = Callable[[str], str]  # a completion -> its answer part


class Generator(Protocol):
    """A built-in task: draws problems, writes demonstrations in a style, checks answers."""

    name: str
    kind: TaskKind
    description: str

    def problem(self, rng: random.Random) -> Record: ...

    def solve(self, record: Record, style: str, rng: random.Random) -> str: ...

    def check(self, record: Record, answer: str) -> bool: ...


class Reward(Protocol):
    """Scores the completions sampled for one record: one float per completion, usually in [0, 1]."""

    def __call__(self, record: Record, completions: list[str]) -> list[float]: ...


class Task(Protocol):
    """A task as the run sees it: its data, its reward and answer extraction, its eval set."""

    id: str
    kind: TaskKind
    weight: float
    requires: list[str]
    sft: list[Record]  # demonstrations (each has a completion)
    rl: list[Record]  # prompts for rollouts
    eval: list[Record]  # held-out prompts, never in sft or rl
    reward: Reward
    extract: Extract  # the answer part of a completion, as the reward reads it
    planning: list[str] | str | None  # planning markers (phrases or a regex), if any
