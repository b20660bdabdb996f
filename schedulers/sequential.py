"""`sequential`: the classic recipe. SFT only (mu = 1) for `sft_steps` steps, then RL only (mu = 0).

With `switch: best` (the strongest staged baseline: early stopping on the held-out score, then RL from the
best SFT checkpoint), the SFT stage also ends at the first decision where the last `patience` evaluations
after the best mean held-out score (`Measurements.mean_scores`, evaluations after step 0) have not beaten
it. That decision, the first of the RL stage, carries `restore_from` = the best evaluation's step: the loop
loads the weights it kept at that evaluation and starts a fresh optimizer before training the step.
"""

from __future__ import annotations

from curriculum.records import Decision
from curriculum.signals.measurements import Measurements
from schedulers.base import BatchMix, MixState, TaskInfo
from schedulers.plan import Segment
from schedulers.registry import scheduler
from schedulers.spec import SequentialSchedule


def best_sft_eval(measurements: Measurements) -> tuple[int | None, int]:
    """(step of the best mean held-out score after step 0 (the first of equals), evaluations since it)."""
    points = [(step, score) for step, score in measurements.mean_scores() if step > 0]
    if not points:
        return None, 0
    best = max(range(len(points)), key=lambda i: (points[i][1], -i))
    return points[best][0], len(points) - 1 - best


class Sequential(MixState):
    def __init__(
        self,
        tasks: list[TaskInfo],
        sft_steps: int,
        sft_batch: int,
        rl_batch: int,
        total_steps: int,
        switch: str = "fixed",
        patience: int = 3,
    ):
        self.sft_steps, self.switch, self.patience = sft_steps, switch, patience
        self.mix = BatchMix(tasks, sft_batch, rl_batch)
        self.mix.check(needs_sft=sft_steps > 0, needs_rl=total_steps > sft_steps or switch == "best")
        self.switched_at: int | None = None  # switch: best, the step RL started

    @property
    def adaptive(self) -> bool:
        return self.switch == "best"

    @property
    def restores(self) -> bool:
        """Whether the loop must keep the weights of the best evaluation (the SFT stage of `switch: best`)."""
        return self.switch == "best" and self.switched_at is None

    def decide(self, step: int, measurements: Measurements) -> Decision:
        if self.switch == "best":
            return self._decide_best(step, measurements)
        if step < self.sft_steps:
            why = f"SFT stage: step {step} < sft_steps {self.sft_steps}"
            return Decision(step, "sft", 1.0, self.mix.sft(), {}, "none", why)
        why = f"RL stage: step {step} >= sft_steps {self.sft_steps}"
        return Decision(step, "rl", 0.0, {}, self.mix.rl(), "none", why)

    def nominal(self, total_steps: int) -> list[Segment]:
        """SFT for sft_steps steps, then RL (with `switch: best` too: no evaluation stalls a plan)."""
        n = min(self.sft_steps, total_steps)
        return self.mix.segments([1.0] * n + [0.0] * (total_steps - n), lambda t: "sft" if t < n else "rl")

    def _decide_best(self, step: int, measurements: Measurements) -> Decision:
        if self.switched_at is not None:
            why = f"RL stage since step {self.switched_at}"
            return Decision(step, "rl", 0.0, {}, self.mix.rl(), "none", why)
        best, since = best_sft_eval(measurements)
        stalled = best is not None and since >= self.patience
        if step < self.sft_steps and not stalled:
            why = "SFT stage: no SFT evaluation yet"
            if best is not None:
                why = f"SFT stage: best mean held-out score at step {best}, {since} evaluation(s) since"
                why += f" (patience {self.patience})"
            return Decision(step, "sft", 1.0, self.mix.sft(), {}, "none", why)
        self.switched_at = step
        cause = (
            f"{since} evaluation{'s' if since != 1 else ''} without a new best"
            if stalled
            else f"sft_steps {self.sft_steps} reached"
        )
        if best is None:
            why = f"RL stage: {cause}, no SFT evaluation to return to: RL goes on from the current weights"
            return Decision(step, "rl", 0.0, {}, self.mix.rl(), "none", why)
        why = f"RL stage: {cause}; RL starts from the weights of step {best}, the best mean held-out score"
        return Decision(step, "rl", 0.0, {}, self.mix.rl(), "none", why, restore_from=best)

    def state_dict(self) -> dict:
        return {**super().state_dict(), "switched_at": self.switched_at}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.switched_at = state.get("switched_at")


@scheduler("sequential")
def build(spec: SequentialSchedule, tasks: list[TaskInfo], total_steps: int) -> Sequential:
    return Sequential(tasks, spec.sft_steps, spec.sft_batch, spec.rl_batch, total_steps, spec.switch, spec.patience)
