"""`chord`: SFT as a dynamically weighted auxiliary loss inside on-policy RL (CHORD, arXiv 2508.11408).

    L = (1 - mu) * L_GRPO + mu * L_SFT

mu over steps t (W = warmup_steps, D = decay_steps):
    t < W:           mu = peak * t / W                                        (linear warmup from 0)
    W <= t < W + D:  mu = valley + (peak - valley) * (1 + cos(pi * (t - W) / D)) / 2   (half cosine)
    t >= W + D:      mu = valley
Presets (`schedulers.spec.CHORD_PRESETS`): `chord-mu` (W=0, D=200, peak 0.9, valley 0.05, no token weights) and
`chord-phi` (constant mu = 0.1 with phi = p(1-p) token weights on the SFT loss).
A step with mu = 0 carries no SFT rows (they would train nothing); mu = 1 carries no RL prompts.
"""

from __future__ import annotations

import math

from curriculum.records import Decision, SFTWeighting
from curriculum.signals.measurements import Measurements
from schedulers.base import BatchMix, MixState, TaskInfo
from schedulers.plan import Segment
from schedulers.registry import scheduler
from schedulers.spec import ChordSchedule


def chord_mu(step: int, warmup_steps: int, decay_steps: int, peak: float, valley: float) -> float:
    """mu at `step` (see the module docstring)."""
    if step < warmup_steps:
        return peak * step / warmup_steps
    t = step - warmup_steps
    if t < decay_steps:
        return valley + (peak - valley) * 0.5 * (1.0 + math.cos(math.pi * t / decay_steps))
    return valley


class Chord(MixState):
    adaptive = False

    def __init__(self, tasks: list[TaskInfo], spec: ChordSchedule):
        self.spec = spec
        self.sft_weighting: SFTWeighting = spec.sft_weighting
        self.mix = BatchMix(tasks, spec.sft_batch, spec.rl_batch)
        self.mix.check(needs_sft=spec.peak > 0, needs_rl=spec.valley < 1)

    def decide(self, step: int, measurements: Measurements) -> Decision:
        s = self.spec
        mu = chord_mu(step, s.warmup_steps, s.decay_steps, s.peak, s.valley)
        if step < s.warmup_steps:
            stage, why = "warmup", f"mu warmup {step}/{s.warmup_steps}: {mu:.3f}"
        elif step < s.warmup_steps + s.decay_steps:
            stage, why = "decay", f"mu cosine decay {step - s.warmup_steps}/{s.decay_steps}: {mu:.3f}"
        else:
            stage, why = "valley", f"mu at valley {mu:.3f}"
        sft, rl = self.mix.rows(mu)
        return Decision(step, stage, mu, sft, rl, self.sft_weighting, why)

    def nominal(self, total_steps: int) -> list[Segment]:
        s = self.spec
        mus = [chord_mu(t, s.warmup_steps, s.decay_steps, s.peak, s.valley) for t in range(total_steps)]

        def stage_at(t: int) -> str:
            return "warmup" if t < s.warmup_steps else "decay" if t < s.warmup_steps + s.decay_steps else "valley"

        return self.mix.segments(mus, stage_at, self.sft_weighting)


@scheduler("chord")
def build(spec: ChordSchedule, tasks: list[TaskInfo], total_steps: int) -> Chord:
    return Chord(tasks, spec)
