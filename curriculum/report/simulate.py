"""`curriculum plan --simulate`: how an adaptive schedule would react, run against surrogate learning curves
instead of a model. The numbers are made up by the rule below, the same for every catalog; they show the
policy's mechanics (when phase_aware decays a task, where a bandit moves prompts, when sequential's best
switch fires), not what a model will do. Plans made this way are labelled *simulated*.

The surrogate, per task t of kind k, after D_t demonstrations and P_t RL prompts trained so far:

    learned_t = 1 - exp(-(D_t / SFT_SCALE + P_t / RL_SCALE))
    score_t   = base_k + (ceiling_k - base_k) * learned_t - overfit_t
    overfit_t = OVERFIT_RATE * max(0, D_t / pool_t - OVERFIT_EPOCHS), at most OVERFIT_MAX
                (pool_t: the task's demonstrations; past OVERFIT_EPOCHS passes over them the score declines)
    entropy_t = structured: H_structured * exp(-D_t / (2 SFT_SCALE) - P_t / RL_SCALE)     (RL shrinks it)
                creative:   H_creative * exp(-D_t / (2 SFT_SCALE)) * (1 + 0.4 (1 - exp(-P_t / RL_SCALE)))
                                                                                          (RL expands it)

base: structured 0.2, creative 0.5; ceiling: structured 0.95, creative 0.8; H: structured 0.6, creative 1.4
nats per token; SFT_SCALE = RL_SCALE = 200 rows; OVERFIT_EPOCHS 4, OVERFIT_RATE 0.02, OVERFIT_MAX 0.4.

What the scheduler sees, as a run would feed it (`Measurements`): at each step, for each task with RL
prompts, reward = score_t and mean |advantage| = 2 score_t (1 - score_t) (a 0/1 reward's mean absolute
deviation) over its rollouts; the SFT loss 2 exp(-D / SFT_SCALE) averaged over the step's tasks with
demonstrations; at step 0, every `evaluation.every` steps and at the plan's stage ends, every task's score and
entropy. No noise: the same catalog simulates the same way. The scheduler decides every step, so a simulation
takes O(tasks) per step (about a second per 10,000 steps of 100 tasks).
"""

from __future__ import annotations

import math
from typing import Any

from curriculum.catalog import Catalog
from curriculum.records import Decision
from curriculum.signals.measurements import Measurements
from schedulers.base import Scheduler
from tasks.build import DataTask

SFT_SCALE = RL_SCALE = 200.0
BASE = {"structured": 0.2, "creative": 0.5}
CEILING = {"structured": 0.95, "creative": 0.8}
ENTROPY = {"structured": 0.6, "creative": 1.4}
OVERFIT_EPOCHS, OVERFIT_RATE, OVERFIT_MAX = 4.0, 0.02, 0.4
DESCRIPTION = (
    "simulated: the schedule decided against surrogate learning curves (curriculum.report.simulate: scores rise "
    "with demonstrations and prompts, structured entropy shrinks under RL and creative entropy grows, past 4 "
    "epochs of demonstrations a score declines), not against a model"
)


def surrogate(kind: str, demos: float, prompts: float, pool: int) -> tuple[float, float]:
    """(score, entropy) of a task of `kind` after `demos` demonstrations and `prompts` RL prompts (module
    docstring), `pool` its demonstrations."""
    learned = 1.0 - math.exp(-(demos / SFT_SCALE + prompts / RL_SCALE))
    overfit = min(OVERFIT_MAX, OVERFIT_RATE * max(0.0, demos / pool - OVERFIT_EPOCHS)) if pool else 0.0
    score = BASE[kind] + (CEILING[kind] - BASE[kind]) * learned - overfit
    rl = 1.0 - math.exp(-prompts / RL_SCALE)
    if kind == "structured":
        entropy = ENTROPY[kind] * math.exp(-demos / (2 * SFT_SCALE) - prompts / RL_SCALE)
    else:
        entropy = ENTROPY[kind] * math.exp(-demos / (2 * SFT_SCALE)) * (1.0 + 0.4 * rl)
    return score, entropy


def simulate(
    catalog: Catalog, tasks: list[DataTask], scheduler: Scheduler, eval_steps: set[int]
) -> tuple[list[Decision], dict[str, Any]]:
    """The scheduler's decisions for every step of the catalog fed the surrogate's measurements, and the
    surrogate's curves: {"description", "scores": task -> [(step, score)], "entropy": task -> [(step, e)]}."""
    G = catalog.training.rollout.group_size
    demos = {t.id: 0.0 for t in tasks}
    prompts = {t.id: 0.0 for t in tasks}
    kinds, pools = {t.id: t.kind for t in tasks}, {t.id: len(t.sft) for t in tasks}
    m = Measurements()
    curves: dict[str, Any] = {"description": DESCRIPTION, "scores": {}, "entropy": {}}
    decisions = []
    for step in range(catalog.training.steps):
        m.step = step
        if step in eval_steps:
            for t in tasks:
                score, entropy = surrogate(kinds[t.id], demos[t.id], prompts[t.id], pools[t.id])
                m.scores.setdefault(t.id, []).append((step, score))
                m.entropy.setdefault(t.id, []).append((step, entropy))
        d = scheduler.decide(step, m)
        decisions.append(d)
        for task, n in d.rl.items():
            score, _ = surrogate(kinds[task], demos[task], prompts[task], pools[task])
            m.rewards.setdefault(task, []).append((step, score))
            m.adv.setdefault(task, []).append((step, 2 * score * (1 - score), n * G))
        if d.sft:
            losses = [2.0 * math.exp(-demos[task] / SFT_SCALE) for task in d.sft]
            m.sft_loss.append((step, sum(losses) / len(losses)))
        for task, n in d.sft.items():
            demos[task] += n
        for task, n in d.rl.items():
            prompts[task] += n
    last = catalog.training.steps
    for t in tasks:  # the final evaluation, after the last step
        score, entropy = surrogate(kinds[t.id], demos[t.id], prompts[t.id], pools[t.id])
        m.scores.setdefault(t.id, []).append((last, score))
        m.entropy.setdefault(t.id, []).append((last, entropy))
    curves["scores"], curves["entropy"] = m.scores, m.entropy
    return decisions, curves
