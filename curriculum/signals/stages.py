"""Stages: runs of consecutive steps with one stage name (`sft` then `rl`, chord's `warmup` / `decay` /
`valley`, one task per stage with an order). The run evaluates every task where a planned stage ends, so
the accuracy matrix R has a row per stage; the plan and the report group steps the same way."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import groupby


@dataclass(frozen=True)
class Stage:
    name: str
    first: int  # first step
    last: int  # last step

    @property
    def end(self) -> int:
        """The step count at which the stage is over (the run evaluates there)."""
        return self.last + 1


def stages(steps: Iterable[tuple[int, str]]) -> list[Stage]:
    """Runs of consecutive (step, stage name) pairs with one name, in order."""
    out = []
    for name, group in groupby(steps, key=lambda pair: pair[1]):
        run = [step for step, _ in group]
        out.append(Stage(str(name), run[0], run[-1]))
    return out


def stage_ends(steps: Iterable[tuple[int, str]]) -> tuple[int, ...]:
    """Step counts at which a stage ends and the next begins (not the end of the last stage)."""
    return tuple(s.end for s in stages(steps))[:-1]
