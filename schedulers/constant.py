"""`constant`: the same mu and task mix at every step. mu = 1 trains SFT only, mu = 0 RL only."""

from __future__ import annotations

from curriculum.records import Decision, SFTWeighting
from curriculum.signals.measurements import Measurements
from schedulers.base import BatchMix, MixState, TaskInfo
from schedulers.plan import Segment
from schedulers.registry import scheduler
from schedulers.spec import ConstantSchedule


class Constant(MixState):
    adaptive = False

    def __init__(self, tasks: list[TaskInfo], mu: float, sft_weighting: SFTWeighting, sft_batch: int, rl_batch: int):
        self.mu, self.sft_weighting = mu, sft_weighting
        self.mix = BatchMix(tasks, sft_batch, rl_batch)
        self.mix.check(needs_sft=mu > 0, needs_rl=mu < 1)

    def decide(self, step: int, measurements: Measurements) -> Decision:
        sft, rl = self.mix.rows(self.mu)
        return Decision(step, "constant", self.mu, sft, rl, self.sft_weighting, f"constant mu {self.mu:g}")

    def nominal(self, total_steps: int) -> list[Segment]:
        return self.mix.segments([self.mu] * total_steps, lambda t: "constant", self.sft_weighting)


@scheduler("constant")
def build(spec: ConstantSchedule, tasks: list[TaskInfo], total_steps: int) -> Constant:
    return Constant(tasks, spec.mu, spec.sft_weighting, spec.sft_batch, spec.rl_batch)
