"""`sequential`: the classic recipe. SFT only (mu = 1) for `sft_steps` steps, then RL only (mu = 0)."""

from __future__ import annotations

from curriculum.records import Decision
from curriculum.signals.measurements import Measurements
from schedulers.base import BatchMix, MixState, TaskInfo
from schedulers.registry import scheduler
from schedulers.spec import SequentialSchedule


class Sequential(MixState):
    adaptive = False

    def __init__(self, tasks: list[TaskInfo], sft_steps: int, sft_batch: int, rl_batch: int, total_steps: int):
        self.sft_steps = sft_steps
        self.mix = BatchMix(tasks, sft_batch, rl_batch)
        self.mix.check(needs_sft=sft_steps > 0, needs_rl=total_steps > sft_steps)

    def decide(self, step: int, measurements: Measurements) -> Decision:
        if step < self.sft_steps:
            why = f"SFT stage: step {step} < sft_steps {self.sft_steps}"
            return Decision(step, "sft", 1.0, self.mix.sft(), {}, "none", why)
        why = f"RL stage: step {step} >= sft_steps {self.sft_steps}"
        return Decision(step, "rl", 0.0, {}, self.mix.rl(), "none", why)


@scheduler("sequential")
def build(spec: SequentialSchedule, tasks: list[TaskInfo], total_steps: int) -> Sequential:
    return Sequential(tasks, spec.sft_steps, spec.sft_batch, spec.rl_batch, total_steps)
