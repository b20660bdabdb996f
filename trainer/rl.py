"""The RL side of a step: roll each prompt out G times, grade the groups, normalize advantages within each
group; then the two per-prompt rules a decision can ask for, as named helpers:

- `gated_prompts`: the HPT gate. A prompt whose G rewards are all <= `gate_below` (failed every time:
  its group has no advantage to learn from) and that has a demonstration trains that demonstration as
  SFT in the same step instead.
- `groups_to_drop`: which groups leave the RL part: gated ones, those of a task that weighs 0 in RL this
  step (mu 1: rolled out only to measure its reward), and with `drop_zero_variance` those whose rewards
  are all equal (all-zero advantages only dilute the RL token mean).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from curriculum.records import Decision, RolloutStats, TaskRollouts
from curriculum.seeding import derive_seed
from trainer.batch import RLPrompt
from trainer.config import TrainingSpec
from trainer.losses import group_advantages
from trainer.model import Formatter
from trainer.planning import marker_regex, planning_mask
from trainer.rollout import Rollouts, generate
from trainer.runtime import Runtime


@dataclass
class ScoredRollouts:
    rollouts: Rollouts  # the rows trained on: N = P * G completions, the G of a prompt adjacent
    rewards: torch.Tensor  # (P, G) of every prompt rolled out, also of groups dropped later
    advantages: torch.Tensor  # (N,)
    tasks: list[str]  # (N,) the task of each row
    stats: RolloutStats
    planning: torch.Tensor | None = None  # (N, R) planning tokens, for HICRA


def roll_out(
    model: torch.nn.Module,
    fmt: Formatter,
    prompts: list[RLPrompt],
    training: TrainingSpec,
    runtime: Runtime,
    seed: int,
    step: int,
) -> ScoredRollouts:
    """G samples per prompt (drawn from a generator seeded by (seed, "rollout", step)), their rewards,
    group-normalized advantages, per-task statistics, and (HICRA on) each row's planning tokens."""
    G, rollout = training.rollout.group_size, training.rollout
    repeated = [p for p in prompts for _ in range(G)]  # one row per rollout
    rollouts = generate(
        model,
        [p.prompt_ids for p in repeated],
        max_new_tokens=rollout.max_new_tokens,
        temperature=rollout.temperature,
        generator=runtime.generator(derive_seed(seed, "rollout", step)),
        stop_ids=fmt.stop_ids,
        pad_id=fmt.pad_id,
        autocast=runtime.autocast,
    )
    texts = [fmt.decode(ids.tolist()) for ids in rollouts.response_ids]
    rewards = torch.tensor(
        [p.grade(texts[i * G : (i + 1) * G]) for i, p in enumerate(prompts)], dtype=torch.float32
    )  # (P, G)
    advantages = group_advantages(rewards, training.grpo.adv_eps).reshape(-1).to(rollouts.response_ids.device)  # (N,)
    tasks = {}
    for task in dict.fromkeys(p.task for p in prompts):
        rows = [i for i, p in enumerate(prompts) if p.task == task]
        tasks[task] = TaskRollouts(
            reward=float(rewards[rows].mean()),
            abs_adv=float(advantages.reshape(-1, G)[rows].abs().mean()),
            rollouts=len(rows) * G,
        )
    planning, planning_frac = None, None
    if training.grpo.hicra_alpha is not None and any(p.planning is not None for p in prompts):
        patterns = {p.task: marker_regex(p.planning) for p in prompts if p.planning is not None}
        rows = [
            planning_mask(fmt, ids.tolist(), patterns[p.task]) if p.task in patterns else [False] * len(ids)
            for p, ids in zip(repeated, rollouts.response_ids)
        ]
        planning = torch.tensor(rows, dtype=torch.bool, device=rollouts.response_ids.device)
        planning_frac = float((planning & rollouts.response_mask.bool()).sum() / rollouts.response_mask.sum())
    stats = RolloutStats(
        reward=float(rewards.mean()),
        response_len=float(rollouts.lengths.float().mean()),
        zero_var_frac=float(zero_variance(rewards).float().mean()),
        tasks=tasks,
        planning_frac=planning_frac,
    )
    return ScoredRollouts(rollouts, rewards, advantages, [p.task for p in repeated], stats, planning)


def zero_variance(rewards: torch.Tensor) -> torch.Tensor:
    """(P,) whether each group's G rewards are all equal (its advantages are all 0). rewards: (P, G)."""
    return rewards.std(dim=1) == 0


def gated_prompts(prompts: list[RLPrompt], rewards: torch.Tensor, gate_below: float | None) -> list[bool]:
    """(P,) the HPT gate: a prompt with a demonstration whose G rewards are all <= gate_below (None: off)."""
    return [
        gate_below is not None and p.demo is not None and bool((rewards[i] <= gate_below).all())
        for i, p in enumerate(prompts)
    ]


def groups_to_drop(prompts: list[RLPrompt], rewards: torch.Tensor, gated: list[bool], decision: Decision) -> list[bool]:
    """(P,) the groups that leave the RL part: gated (their demonstration trains instead), of a task at mu 1
    (its RL rows weigh 0), and with `drop_zero_variance` those whose rewards are all equal."""
    flat = zero_variance(rewards)
    return [
        g or decision.mu_for(p.task) >= 1 or (decision.drop_zero_variance and bool(z))
        for g, z, p in zip(gated, flat, prompts)
    ]


def keep_groups(scored: ScoredRollouts, keep: list[bool], G: int) -> ScoredRollouts:
    """The rows of the prompts with `keep[i]` (each prompt's G rows are adjacent)."""
    rows = [i for i in range(len(scored.tasks)) if keep[i // G]]
    r = scored.rollouts
    index = torch.tensor(rows, dtype=torch.long, device=r.response_ids.device)
    fields = (r.prompt_ids, r.prompt_mask, r.response_ids, r.response_mask, r.logprobs, r.entropy)
    return ScoredRollouts(
        Rollouts(*(t.index_select(0, index) if t is not None else None for t in fields)),
        scored.rewards,
        scored.advantages.index_select(0, index),
        [scored.tasks[i] for i in rows],
        scored.stats,
        scored.planning.index_select(0, index) if scored.planning is not None else None,
    )
