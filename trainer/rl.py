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
    rollouts: Rollouts  # this rank's rows trained on: its groups' G completions each, the G of a prompt adjacent
    rewards: torch.Tensor  # (P, G) of every prompt of the step rolled out (on every rank), also of groups dropped later
    advantages: torch.Tensor  # (N,) of this rank's rows
    tasks: list[str]  # (N,) the task of each row
    stats: RolloutStats  # over every prompt of the step
    groups: list[int]  # the step's prompt index of each of this rank's groups
    planning: torch.Tensor | None = None  # (N, R) planning tokens, for HICRA
    prefill_tokens: int = 0  # prompt tokens decoded by every rank (each rollout's prompt counted)
    generated_tokens: int = 0  # tokens sampled by every rank


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
    group-normalized advantages, per-task statistics, and (HICRA on) each row's planning tokens.

    Under torchrun a rank rolls out its prompts (`Dist.mine`) and samples each row as a one-process run would
    (`generate`'s `part`); the rewards and counts of every rank are gathered, so the statistics, the advantages
    and the rules that read the rewards (gate, drop) are the same on every rank."""
    G, rollout, d = training.rollout.group_size, training.rollout, runtime.dist
    mine = d.mine(len(prompts))
    repeated = [prompts[k] for k in mine for _ in range(G)]  # one row per rollout
    rows = [k * G + j for k in mine for j in range(G)]
    rollouts = generate(
        model,
        [p.prompt_ids for p in repeated],
        max_new_tokens=rollout.max_new_tokens,
        temperature=rollout.temperature,
        generator=runtime.generator(derive_seed(seed, "rollout", step)),
        stop_ids=fmt.stop_ids,
        pad_id=fmt.pad_id,
        autocast=runtime.autocast,
        part=(rows, len(prompts) * G) if d.world > 1 else None,
    )
    texts = [fmt.decode(ids.tolist()) for ids in rollouts.response_ids]
    graded = [prompts[k].grade(texts[i * G : (i + 1) * G]) for i, k in enumerate(mine)]
    planning = None
    if training.grpo.hicra_alpha is not None and any(p.planning is not None for p in prompts):
        patterns = {p.task: marker_regex(p.planning) for p in prompts if p.planning is not None}
        planning = torch.zeros(rollouts.response_ids.shape, dtype=torch.bool, device=rollouts.response_ids.device)
        for i, (p, ids) in enumerate(zip(repeated, rollouts.response_ids)):
            if p.task in patterns:
                planning[i] = torch.tensor(planning_mask(fmt, ids.tolist(), patterns[p.task]), dtype=torch.bool)
    live = rollouts.response_mask.bool()
    counts = [
        float(rollouts.lengths.sum()),
        float(rollouts.prompt_mask.sum()),
        float((planning & live).sum()) if planning is not None else 0.0,
    ]
    rewards = torch.tensor(d.interleave(graded, len(prompts)), dtype=torch.float32).reshape(len(prompts), G)
    generated, prefill, planned = d.sum(counts)
    advantages = group_advantages(rewards, training.grpo.adv_eps).reshape(-1)  # (P * G,) the same on every rank
    tasks = {}
    for task in dict.fromkeys(p.task for p in prompts):
        ks = [k for k, p in enumerate(prompts) if p.task == task]
        tasks[task] = TaskRollouts(
            reward=float(rewards[ks].mean()),
            abs_adv=float(advantages.reshape(-1, G)[ks].abs().mean()),
            rollouts=len(ks) * G,
        )
    stats = RolloutStats(
        reward=float(rewards.mean()),
        response_len=_mean32(generated, rewards.numel()),
        zero_var_frac=float(zero_variance(rewards).float().mean()),
        tasks=tasks,
        planning_frac=_mean32(planned, generated) if planning is not None else None,
    )
    local = advantages[rows].to(rollouts.response_ids.device)  # this rank's rows (none: empty)
    return ScoredRollouts(
        rollouts, rewards, local, [p.task for p in repeated], stats, mine, planning, int(prefill), int(generated)
    )


def _mean32(total: float, n: float) -> float:
    """total / n in float32, as the one-process means of float32 counts were taken (the same stored figure)."""
    return float(torch.tensor(total, dtype=torch.float32) / torch.tensor(n, dtype=torch.float32))


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
    """The rows of the prompts with `keep[k]` (k: the step's prompt index; each prompt's G rows are adjacent)."""
    rows = [i for i in range(len(scored.tasks)) if keep[scored.groups[i // G]]]
    r = scored.rollouts
    index = torch.tensor(rows, dtype=torch.long, device=r.response_ids.device)
    fields = (r.prompt_ids, r.prompt_mask, r.response_ids, r.response_mask, r.logprobs, r.entropy)
    return ScoredRollouts(
        Rollouts(*(t.index_select(0, index) if t is not None else None for t in fields)),
        scored.rewards,
        scored.advantages.index_select(0, index),
        [scored.tasks[i] for i in rows],
        scored.stats,
        [k for k in scored.groups if keep[k]],
        scored.planning.index_select(0, index) if scored.planning is not None else None,
        scored.prefill_tokens,
        scored.generated_tokens,
    )
