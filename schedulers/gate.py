"""`gate`: RL with a per-prompt gate to the demonstration (HPT, arXiv 2509.04419; ReLIFT, arXiv 2506.07527:
ReLIFT buffers the failed prompts for a later fine-tuning step, here they train in the same step, as in HPT).

Every step carries `rl_batch` prompts by task weight, mu = `mu` (default 0: RL only) and
`Decision.gate_below`. The loop does the per-prompt work: after the rollouts, a prompt whose G rewards
are all <= gate_below (the model failed it every time, so its group has no advantage to learn from) has
its demonstration trained as SFT in the same step instead. When gating fires the step's SFT part is
those gated prompts' demonstrations (plus, with mu > 0, the `sft_batch` demonstrations this policy asks
for), weighted mu + (1 - mu) * k / n for k gated prompts out of n (see `Decision`). A prompt of a task
without demonstrations is never gated. The policy keeps no state beyond the row mixers.
"""

from __future__ import annotations

from curriculum.records import Decision
from curriculum.signals.measurements import Measurements
from schedulers.base import BatchMix, MixState, SchedulerError, TaskInfo
from schedulers.plan import Segment
from schedulers.registry import scheduler
from schedulers.spec import GateSchedule


class Gate(MixState):
    adaptive = True

    def __init__(self, tasks: list[TaskInfo], spec: GateSchedule):
        self.spec = spec
        self.mix = BatchMix(tasks, spec.sft_batch, spec.rl_batch)
        self.mix.check(needs_sft=spec.mu > 0, needs_rl=True)
        if not any(t.has_sft and t.has_rl for t in tasks):
            raise SchedulerError(
                "the gate schedule needs a task with both RL prompts and demonstrations; none has both"
            )

    def decide(self, step: int, measurements: Measurements) -> Decision:
        s = self.spec
        sft, rl = self.mix.rows(s.mu)
        why = f"mu {s.mu:g}; a prompt whose rewards are all <= {s.gate_below:g} trains on its demonstration"
        return Decision(step, "gate", s.mu, sft, rl, "none", why, gate_below=s.gate_below)

    def nominal(self, total_steps: int) -> list[Segment]:
        return self.mix.segments([self.spec.mu] * total_steps, lambda t: "gate")


@scheduler("gate")
def build(spec: GateSchedule, tasks: list[TaskInfo], total_steps: int) -> Gate:
    return Gate(tasks, spec)
