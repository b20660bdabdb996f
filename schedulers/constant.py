"""`constant`: the same mu and task mix at every step. mu = 1 trains SFT only, mu = 0 RL only."""

from __future__ import annotations

from typing import Any

from schedulers.base import BatchMix, Decision, Measurements, MixState, SFTWeighting, TaskInfo
from schedulers.registry import scheduler


class Constant(MixState):
    def __init__(self, tasks: list[TaskInfo], mu: float, sft_weighting: SFTWeighting, sft_batch: int, rl_batch: int):
        self.mu, self.sft_weighting = mu, sft_weighting
        self.mix = BatchMix(tasks, sft_batch, rl_batch)
        self.mix.check(needs_sft=mu > 0, needs_rl=mu < 1)

    def decide(self, step: int, measurements: Measurements) -> Decision:
        sft, rl = self.mix.rows(self.mu)
        return Decision(step, "constant", self.mu, sft, rl, self.sft_weighting, f"constant mu {self.mu:g}")


@scheduler("constant")
def build(spec: Any, tasks: list[TaskInfo], total_steps: int) -> Constant:
    return Constant(tasks, spec.mu, spec.sft_weighting, spec.sft_batch, spec.rl_batch)
