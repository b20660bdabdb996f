"""`constant`: the same mu and task mix at every step. mu = 1 trains SFT only, mu = 0 RL only."""

from __future__ import annotations

from typing import Any

from schedulers.base import BatchMix, Decision, Measurements, SFTWeighting, TaskInfo
from schedulers.registry import scheduler


class Constant:
    def __init__(self, tasks: list[TaskInfo], mu: float, sft_weighting: SFTWeighting, sft_batch: int, rl_batch: int):
        self.mu, self.sft_weighting = mu, sft_weighting
        self.mix = BatchMix(tasks, sft_batch, rl_batch)
        self.mix.check(needs_sft=mu > 0, needs_rl=mu < 1)

    def decide(self, step: int, measurements: Measurements) -> Decision:
        # A part whose weight is 0 would cost compute and train nothing: it is left out of the step.
        sft = self.mix.sft() if self.mu > 0 else {}
        rl = self.mix.rl() if self.mu < 1 else {}
        return Decision(step, "constant", self.mu, sft, rl, self.sft_weighting, f"constant mu {self.mu:g}")

    def state_dict(self) -> dict:
        return {"mix": self.mix.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.mix.load_state_dict(state["mix"])


@scheduler("constant")
def build(spec: Any, tasks: list[TaskInfo], total_steps: int) -> Constant:
    return Constant(tasks, spec.mu, spec.sft_weighting, spec.sft_batch, spec.rl_batch)
