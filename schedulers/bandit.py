"""`bandit`: share the RL prompts by a UCB bandit on each task's learning progress (DUMP, arXiv 2504.09710).

A task's learning progress is how much its rollouts still move the policy: the mean |advantage| of its
most recent `window` rollouts (`Measurements.adv`, from rl/<task>/abs_adv and rl/<task>/rollouts).
The per-step (step, mean, n) triples are taken newest first until their n add up to `window`, the oldest
one in part, and averaged weighted by rollouts:

    LP_t  = sum_i m_i * k_i / sum_i k_i          (k_i = n_i, except the oldest: what is left of the window)
    UCB_t = LP_t + c * sqrt(2 * ln(N + 1) / (n_t + 1))
    p_t   = w_t * exp(UCB_t / T) / sum_u w_u * exp(UCB_u / T)

with n_t the task's rollouts so far, N the sum of n_t over the tasks, T = `temperature`, w_t the task
weight (a prior; with equal weights p is DUMP's softmax(UCB / T)). A task with no rollouts yet has
LP_t = 0 and the largest bonus, so it is tried. `rl_batch` prompts are split by p with the smooth round
robin of `Mixer`, so over steps each task gets its exact share to within a row.

mu is constant (default 0); with mu > 0 the step also carries `sft_batch` demonstrations by task weight.
`drop_zero_variance` is passed to the loop in the decision (groups whose rewards are all equal carry no
advantage). The policy keeps no state beyond the row mixers: p is a function of the measurements.
"""

from __future__ import annotations

import math

from curriculum.records import Decision
from curriculum.signals.measurements import Measurements
from schedulers.base import BatchMix, MixState, TaskInfo
from schedulers.plan import Segment
from schedulers.registry import scheduler
from schedulers.spec import BanditSchedule


def learning_progress(triples: list[tuple[int, float, int]], window: int) -> float:
    """Mean |advantage| over the latest `window` rollouts of (step, mean |advantage|, rollouts) triples."""
    need, total, used = window, 0.0, 0
    for _, mean, n in reversed(triples):
        take = min(n, need)
        total, used, need = total + mean * take, used + take, need - take
        if need == 0:
            break
    return total / used if used else 0.0


def ucb_shares(
    adv: dict[str, list[tuple[int, float, int]]], weights: dict[str, float], window: int, c: float, temperature: float
) -> dict[str, tuple[float, int, float, float]]:
    """task -> (LP_t, n_t, UCB_t, p_t) for the tasks in `weights` (see the module docstring)."""
    rollouts = {t: sum(n for _, _, n in adv.get(t, [])) for t in weights}
    big_n = sum(rollouts.values())
    lp = {t: learning_progress(adv.get(t, []), window) for t in weights}
    ucb = {t: lp[t] + c * math.sqrt(2 * math.log(big_n + 1) / (rollouts[t] + 1)) for t in weights}
    top = max(ucb.values(), default=0.0)  # subtract the max before exp: no overflow at T = 0.1
    raw = {t: weights[t] * math.exp((ucb[t] - top) / temperature) for t in weights}
    total = sum(raw.values())
    return {t: (lp[t], rollouts[t], ucb[t], raw[t] / total) for t in weights}


class Bandit(MixState):
    adaptive = True

    def __init__(self, tasks: list[TaskInfo], spec: BanditSchedule):
        self.spec = spec
        self.mix = BatchMix(tasks, spec.sft_batch, spec.rl_batch)
        self.mix.check(needs_sft=spec.mu > 0, needs_rl=spec.mu < 1)

    def decide(self, step: int, measurements: Measurements) -> Decision:
        s = self.spec
        arms = ucb_shares(measurements.adv, self.mix.rl_weights, s.window, s.c, s.temperature)
        sft, rl = self.mix.rows(s.mu, {t: p for t, (_, _, _, p) in arms.items()})
        big_n = sum(n for _, n, _, _ in arms.values())
        notes = ", ".join(f"{t} LP {lp:.3f} n {n} UCB {u:.3f} share {p:.2f}" for t, (lp, n, u, p) in arms.items())
        why = f"UCB = LP + {s.c:g} * sqrt(2 ln(N + 1) / (n + 1)), N {big_n}, T {s.temperature:g}: {notes}"
        return Decision(
            step, "bandit", s.mu, sft, rl, "none", f"{why}; mu {s.mu:g}", drop_zero_variance=s.drop_zero_variance
        )

    def nominal(self, total_steps: int) -> list[Segment]:
        """No rollouts yet: every task has LP 0 and the same bonus, so p is the task weights' share."""
        s = self.spec
        arms = ucb_shares({}, self.mix.rl_weights, s.window, s.c, s.temperature)
        p = {t: share for t, (_, _, _, share) in arms.items()}
        return self.mix.segments([s.mu] * total_steps, lambda t: "bandit", rl_weights=p)


@scheduler("bandit")
def build(spec: BanditSchedule, tasks: list[TaskInfo], total_steps: int) -> Bandit:
    return Bandit(tasks, spec)
