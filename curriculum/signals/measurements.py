"""`Measurements`: what a scheduler sees at a step, folded from the run's typed records.

The loop folds each record as it arrives (`add_step`, `add_eval`); each history is in step order, so
the result does not depend on how step and eval records interleave. A checkpoint saves the fold
(`state_dict`), so a resumed run's schedulers see exactly what they saw before the stop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from curriculum.records import EvalRecord, StepRecord


def _present(value: float | None) -> bool:
    """A measured number: not None (the part did not run) and not NaN."""
    return value is not None and not math.isnan(value)


@dataclass
class Measurements:
    """Per-task histories, each a list of (step, value) in step order; `adv` holds (step, mean |advantage|,
    rollouts) triples, so a window over rollouts (not steps) can be taken. Built from records, never
    from hidden state."""

    step: int = 0  # steps folded so far
    scores: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # eval score per task
    entropy: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # eval entropy per task
    rewards: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # RL reward per task, per step
    adv: dict[str, list[tuple[int, float, int]]] = field(default_factory=dict)  # mean |advantage|, rollouts
    sft_loss: list[tuple[int, float]] = field(default_factory=list)  # steps that had SFT rows

    def add_step(self, record: StepRecord) -> None:
        """The measurements after this step: each task's reward, its |advantage| with its rollouts (when
        it had any), the SFT loss (when the step had SFT rows). Missing or NaN values add nothing."""
        if record.rollouts is not None:
            for task, t in record.rollouts.tasks.items():
                if _present(t.reward):
                    self.rewards.setdefault(task, []).append((record.step, float(t.reward)))
                if _present(t.abs_adv) and t.rollouts > 0:
                    self.adv.setdefault(task, []).append((record.step, float(t.abs_adv), int(t.rollouts)))
        if _present(record.sft_loss):
            self.sft_loss.append((record.step, float(record.sft_loss)))
        self.step = record.step + 1

    def add_eval(self, record: EvalRecord) -> None:
        """Each task's held-out score and entropy at this evaluation."""
        for task, m in record.tasks.items():
            if _present(m.score):
                self.scores.setdefault(task, []).append((record.step, float(m.score)))
            if _present(m.entropy):
                self.entropy.setdefault(task, []).append((record.step, float(m.entropy)))

    def mean_scores(self) -> list[tuple[int, float]]:
        """(step, mean held-out score over the tasks) of every evaluation that scored all of them."""
        by_step: dict[int, list[float]] = {}
        for history in self.scores.values():
            for step, score in history:
                by_step.setdefault(step, []).append(score)
        return [(step, sum(v) / len(v)) for step, v in sorted(by_step.items()) if len(v) == len(self.scores)]

    def state_dict(self) -> dict:
        return {
            "step": self.step,
            "scores": {t: [list(p) for p in h] for t, h in self.scores.items()},
            "entropy": {t: [list(p) for p in h] for t, h in self.entropy.items()},
            "rewards": {t: [list(p) for p in h] for t, h in self.rewards.items()},
            "adv": {t: [list(p) for p in h] for t, h in self.adv.items()},
            "sft_loss": [list(p) for p in self.sft_loss],
        }

    @classmethod
    def from_state(cls, state: dict) -> Measurements:
        def pairs(h: list) -> list[tuple[int, float]]:
            return [(int(s), float(v)) for s, v in h]

        return cls(
            step=int(state["step"]),
            scores={t: pairs(h) for t, h in state["scores"].items()},
            entropy={t: pairs(h) for t, h in state["entropy"].items()},
            rewards={t: pairs(h) for t, h in state["rewards"].items()},
            adv={t: [(int(s), float(v), int(n)) for s, v, n in h] for t, h in state["adv"].items()},
            sft_loss=pairs(state["sft_loss"]),
        )
