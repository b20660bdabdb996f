"""`reward_adaptive`: each task's mu from its own recent RL reward (CHORD, arXiv 2508.11408, app. B.1).

    mu_t = clip(tau - r_t, 0, 1),   r_t = mean of the task's last `window` rl/<task>/reward points

A task the model already solves (r_t >= tau) trains on RL only; the worse it does, the more it leans on
its demonstrations. Before a task's first reward, mu_t = `initial_mu` (default min(tau, 1): as if its
reward were 0). A task without demonstrations has mu_t = 0 (its RL rows keep full weight).

Rows per step:
- RL: `rl_batch` prompts across the tasks with prompts, by task weight, at every step, also for a task
  at mu_t = 1: its RL loss then weighs 0, but its rollouts keep measuring the reward that lowers mu_t.
- SFT: `sft_batch` demonstrations across the tasks with mu_t > 0, by task weight; none when all are 0.

`Decision.task_mu` holds every task's mu_t; `Decision.mu` is their mean over the tasks with rows that
step. The policy keeps no state beyond the row mixers: mu_t is a function of the measurements.
"""

from __future__ import annotations

from curriculum.records import Decision
from curriculum.signals.measurements import Measurements
from schedulers.base import BatchMix, MixState, TaskInfo, summary_mu
from schedulers.plan import Segment
from schedulers.registry import scheduler
from schedulers.spec import RewardAdaptiveSchedule


class RewardAdaptive(MixState):
    adaptive = True

    def __init__(self, tasks: list[TaskInfo], spec: RewardAdaptiveSchedule):
        self.tasks, self.spec = tasks, spec
        self.initial_mu = min(spec.tau, 1.0) if spec.initial_mu is None else spec.initial_mu
        self.mix = BatchMix(tasks, spec.sft_batch, spec.rl_batch)
        self.mix.check(needs_sft=spec.tau > 0 or self.initial_mu > 0, needs_rl=True)

    def task_mu(self, m: Measurements) -> tuple[dict[str, float], list[str]]:
        """mu_t of every task and, per task, the reason in a few words."""
        mus, notes = {}, []
        for t in self.tasks:
            recent = m.rewards.get(t.id, [])[-self.spec.window :]
            if not t.has_sft:
                mus[t.id] = 0.0
                notes.append(f"{t.id} no demonstrations -> 0")
            elif not recent:
                mus[t.id] = self.initial_mu
                notes.append(f"{t.id} no reward yet -> {self.initial_mu:.2f}")
            else:
                reward = sum(v for _, v in recent) / len(recent)
                mus[t.id] = min(1.0, max(0.0, self.spec.tau - reward))
                notes.append(f"{t.id} reward {reward:.2f} ({len(recent)} steps) -> {mus[t.id]:.2f}")
        return mus, notes

    def decide(self, step: int, measurements: Measurements) -> Decision:
        task_mu, notes = self.task_mu(measurements)
        sft = self.mix.sft_for(task_mu)
        rl = self.mix.rl()
        mu = summary_mu(task_mu, sft, rl)
        why = f"mu_t = clip({self.spec.tau:g} - reward, 0, 1): " + ", ".join(notes) + f"; mean {mu:.2f}"
        return Decision(step, "adaptive", mu, sft, rl, self.spec.sft_weighting, why, task_mu=task_mu)

    def nominal(self, total_steps: int) -> list[Segment]:
        """No rewards yet: every task at initial_mu (0 without demonstrations), at every step."""
        task_mu, _ = self.task_mu(Measurements())
        sft = {t: w for t, w in self.mix.sft_weights.items() if task_mu[t] > 0}
        mu = summary_mu(task_mu, sft, self.mix.rl_weights)
        return self.mix.segments([mu] * total_steps, lambda t: "adaptive", self.spec.sft_weighting, None, task_mu, sft)


@scheduler("reward_adaptive")
def build(spec: RewardAdaptiveSchedule, tasks: list[TaskInfo], total_steps: int) -> RewardAdaptive:
    return RewardAdaptive(tasks, spec)
