"""`phase_aware`: each task keeps a high SFT weight until its held-out score shows overfitting, then decays.

Staged SFT-then-RL goes through shift, readaptation and overfitting (CHORD, arXiv 2508.11408, Sec. 3).
Demonstrations help while the model shifts toward them and readapts; once the task's score declines
while the SFT loss still falls, they hurt. So, per task t, at every step:

1. Label the task's held-out scores (`Measurements.scores[t]`) with `curriculum.signals.phases.detect_phases`,
   given the run's SFT loss (`Measurements.sft_loss`; with no SFT loss logged yet, the score decline
   alone decides) and the spec's `drop`, `overfit_drop`, `patience`.
2. Before any point of t is labelled `overfit`: mu_t = peak, whatever the latest label (`start`,
   `shift`, `readapt`, `gain` or `stable`, e.g. a plateau after readapting: held at peak).
3. At the first step s_t where a label `overfit` is seen (the step index of the decision, kept in the
   state), the decay starts for good: mu_t = valley + (peak - valley) * (1 + cos(pi * k / D)) / 2 with
   k = step - s_t and D = decay_steps, then valley from k >= D on. Later labels do not undo it: the
   task has shown it overfits the demonstrations.

A task without demonstrations has mu_t = 0. SFT rows go to tasks with mu_t > 0, RL prompts to tasks
with mu_t < 1 (each by task weight); `Decision.mu` is the mean mu_t over the step's tasks.
"""

from __future__ import annotations

from curriculum.records import Decision
from curriculum.signals.measurements import Measurements
from curriculum.signals.phases import detect_phases
from schedulers.base import BatchMix, TaskInfo, summary_mu
from schedulers.chord import chord_mu
from schedulers.plan import Segment
from schedulers.registry import scheduler
from schedulers.spec import PhaseAwareSchedule


class PhaseAware:
    adaptive = True

    def __init__(self, tasks: list[TaskInfo], spec: PhaseAwareSchedule):
        self.tasks, self.spec = tasks, spec
        self.mix = BatchMix(tasks, spec.sft_batch, spec.rl_batch)
        self.mix.check(needs_sft=spec.peak > 0, needs_rl=spec.valley < 1)
        self.detected: dict[str, int] = {}  # task -> step index at which `overfit` was first seen

    def labels(self, task: str, m: Measurements) -> list[str]:
        s = self.spec
        sft_loss = m.sft_loss or None
        return detect_phases(
            m.scores.get(task, []), sft_loss, drop=s.drop, overfit_drop=s.overfit_drop, patience=s.patience
        )

    def decide(self, step: int, measurements: Measurements) -> Decision:
        s = self.spec
        task_mu, notes, decaying, at_valley = {}, [], False, False
        for t in self.tasks:
            labels = self.labels(t.id, measurements)
            latest = labels[-1] if labels else "no eval"
            if t.id not in self.detected and "overfit" in labels:
                self.detected[t.id] = step
            if not t.has_sft:
                task_mu[t.id] = 0.0
                notes.append(f"{t.id} {latest}, no demonstrations: 0")
            elif t.id not in self.detected:
                task_mu[t.id] = s.peak
                notes.append(f"{t.id} {latest}: peak {s.peak:.2f}")
            else:
                k = max(0, step - self.detected[t.id])
                task_mu[t.id] = chord_mu(k, 0, s.decay_steps, s.peak, s.valley)
                decaying = decaying or k < s.decay_steps
                at_valley = at_valley or k >= s.decay_steps
                notes.append(
                    f"{t.id} {latest}, overfit since step {self.detected[t.id]}: "
                    f"decay {min(k, s.decay_steps)}/{s.decay_steps} -> {task_mu[t.id]:.2f}"
                )
        sft = self.mix.sft_for(task_mu)
        rl = self.mix.rl(self.mix.rl_weights_for(task_mu))
        mu = summary_mu(task_mu, sft, rl)
        stage = "decay" if decaying else "valley" if at_valley else "peak"
        why = "; ".join(notes) + f"; mean mu {mu:.2f}"
        return Decision(step, stage, mu, sft, rl, s.sft_weighting, why, task_mu=task_mu)

    def nominal(self, total_steps: int) -> list[Segment]:
        """No evaluations, so no overfitting: every task with demonstrations at peak, at every step."""
        task_mu = {t.id: self.spec.peak if t.has_sft else 0.0 for t in self.tasks}
        sft = {t: w for t, w in self.mix.sft_weights.items() if task_mu[t] > 0}
        rl = self.mix.rl_weights_for(task_mu)
        mu = summary_mu(task_mu, sft, rl)
        return self.mix.segments([mu] * total_steps, lambda t: "peak", self.spec.sft_weighting, rl, task_mu, sft)

    def state_dict(self) -> dict:
        return {"mix": self.mix.state_dict(), "detected": dict(self.detected)}

    def load_state_dict(self, state: dict) -> None:
        self.mix.load_state_dict(state["mix"])
        self.detected = {t: int(k) for t, k in state["detected"].items()}


@scheduler("phase_aware")
def build(spec: PhaseAwareSchedule, tasks: list[TaskInfo], total_steps: int) -> PhaseAware:
    return PhaseAware(tasks, spec)
