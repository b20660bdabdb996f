"""The training loop: one function, read top to bottom.

Per step: the next batch (from the stream); roll out the RL prompts G times; score them;
group-normalized advantages; the mixed loss `(1 - mu) * L_RL + mu * L_SFT` (each part normalized over
its own tokens, accumulated over micro-batches); backward; gradient clip; AdamW with the learning-rate
schedule; a step record. Evaluation after step 0, every `eval_every` steps and at the end;
checkpoints every `checkpoint_every` steps and at the end. A step with no RL prompts generates
nothing, so staged SFT costs what SFT costs.

The loop knows nothing of schedulers: `next_batch(step)` gives it data, `log` takes its records and
saves checkpoints. State is a plain dict (`model`, `optimizer`, `step`) that `log.checkpoint` saves.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Protocol

import torch

from curriculum.seeding import derive_seed
from trainer.batch import Batch, EvalSet, SFTRow
from trainer.evaluate import evaluate
from trainer.losses import group_advantages, grpo_loss, sft_loss
from trainer.model import Formatter
from trainer.probes import marker_regex, planning_mask
from trainer.rollout import Rollouts, completion_logprobs, generate
from trainer.runtime import Runtime
from trainer.sft import completion_token_count, sft_logprobs


@dataclass(frozen=True)
class FitConfig:
    """Settings of the loop (built from the catalog's `training` and `evaluation` sections)."""

    steps: int  # optimizer steps in the whole run
    seed: int  # catalog seed: rollouts draw from a generator seeded by (seed, "rollout", step)
    lr: float  # peak learning rate
    weight_decay: float = 0.0
    warmup_steps: int = 0  # linear warmup of the learning rate
    lr_decay: str = "constant"  # after warmup: constant | cosine (to 0 at the last step)
    grad_clip: float | None = 1.0  # max global gradient norm
    micro_batch: int | None = None  # rows per forward/backward; None = a whole part at once
    group_size: int = 4  # G rollouts per RL prompt
    max_new_tokens: int = 40
    temperature: float = 1.0  # rollout sampling; RL log-probs use the same temperature
    clip_low: float = 0.2
    clip_high: float = 0.2
    kl_coef: float = 0.0  # k3 KL to the starting model (needs `reference`)
    adv_eps: float = 1e-6
    eval_every: int = 50  # 0 = evaluate only at the start and the end
    eval_at: tuple[int, ...] = ()  # also evaluate after these step counts (stage ends)
    eval_max_new_tokens: int = 40
    eval_temperature: float = 1.0
    eval_batch_size: int = 128  # sequences per generation call
    eval_samples: int = 4  # k sampled completions per eval prompt
    eval_kl_samples: int = 0  # base-model samples per eval prompt for KL(base || policy); 0 = off
    eval_kl_estimator: str = "full"  # full: KL(base || policy) on base samples; k3: on the policy's samples
    hicra_alpha: float | None = None  # planning tokens get A + alpha * |A|; None = off
    checkpoint_every: int = 100  # 0 = only at the end


class RunLog(Protocol):
    """Where the loop's records and checkpoints go (the run directory)."""

    def step(self, record: dict) -> None: ...

    def eval(self, step: int, results: dict[str, dict[str, float]]) -> None: ...

    def checkpoint(self, state: dict) -> None: ...


def lr_at(step: int, cfg: FitConfig) -> float:
    """Linear warmup over `warmup_steps`, then constant or cosine decay to 0 at the last step."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if cfg.lr_decay == "cosine":
        progress = (step - cfg.warmup_steps) / max(cfg.steps - cfg.warmup_steps, 1)
        return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * progress))
    return cfg.lr


def make_optimizer(model: torch.nn.Module, cfg: FitConfig) -> torch.optim.Optimizer:
    return torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


def fit(
    state: dict,
    fmt: Formatter,
    next_batch: Callable[[int], Batch],
    eval_sets: list[EvalSet],
    cfg: FitConfig,
    runtime: Runtime,
    log: RunLog,
    reference: torch.nn.Module | None = None,
    stop_at: int | None = None,
) -> None:  # reference: a frozen copy of the starting model (k3 KL penalty, KL-to-base probe)
    """Train `state["model"]` from `state["step"]` to `cfg.steps`, or stop after `stop_at` steps with a
    checkpoint (a resume then continues exactly)."""
    model, optimizer = state["model"], state["optimizer"]
    model.train()
    if state["step"] == 0:
        log.eval(0, run_eval(model, fmt, eval_sets, cfg, runtime, 0, reference))
    until = cfg.steps if stop_at is None else min(stop_at, cfg.steps)
    while state["step"] < until:
        step, started = state["step"], time.perf_counter()
        batch = next_batch(step)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, cfg)
        rollouts = roll_out(model, fmt, batch, cfg, runtime, step) if batch.rl else None
        sft_rows, gated = list(batch.sft), 0
        if rollouts is not None and batch.gate_below is not None:  # all G failed: train the demonstration
            failed = [p for p, f in zip(batch.rl, rollouts.failed) if f]
            sft_rows += [SFTRow(p.task, p.prompt_ids, fmt.completion_ids(p.demo)) for p in failed]
            gated = len(failed)
        mu_of = step_mu(batch, gated / len(batch.rl) if batch.rl else 0.0)
        # SFT rows at mu 0 train nothing and stay out of the SFT token mean (RL rows at mu 1 already left
        # the RL part in `roll_out`), so they do not dilute the other rows
        sft_rows = [r for r in sft_rows if mu_of(r.task) > 0]
        optimizer.zero_grad(set_to_none=True)
        sft_part = backward_sft(model, fmt, sft_rows, batch.sft_weighting, mu_of, cfg, runtime) if sft_rows else None
        rl_part = None
        if rollouts is not None and rollouts.rollouts.response_ids.shape[0]:
            rl_part = backward_rl(model, rollouts, mu_of, cfg, runtime, reference)
        max_norm = cfg.grad_clip if cfg.grad_clip is not None else float("inf")
        grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm))
        optimizer.step()
        state["step"] = step + 1

        seconds = time.perf_counter() - started
        tokens = (sft_part or {}).get("tokens", 0) + (rl_part or {}).get("seq_tokens", 0)
        record = {
            "step": step,
            "stage": batch.stage,
            "sched/mu": mu_of(None),
            "train/lr": optimizer.param_groups[0]["lr"],
            "train/loss": (rl_part or {}).get("weighted", 0.0) + (sft_part or {}).get("weighted", 0.0),
            "train/sft_loss": sft_part["loss"] if sft_part else None,
            "train/rl_loss": rl_part["loss"] if rl_part else None,
            "train/grad_norm": grad_norm,
            "train/sft_tokens": (sft_part or {}).get("tokens", 0),
            "train/rl_tokens": (rl_part or {}).get("tokens", 0),
            **{f"sft/{t}/rows": n for t, n in _count(r.task for r in batch.sft).items()},
            **({"gate/prompts": gated} if batch.gate_below is not None else {}),
            **{f"rl/{t}/prompts": n for t, n in _count(p.task for p in batch.rl).items()},
            **(rollouts.stats if rollouts else {}),
            **({k: v for k, v in rl_part.items() if k.startswith("rl/")} if rl_part else {}),
            "perf/step_seconds": seconds,
            "perf/tokens_per_second": tokens / seconds if seconds > 0 else 0.0,
        }
        log.step(record)
        done = state["step"]
        if done == cfg.steps or (cfg.eval_every and done % cfg.eval_every == 0) or done in cfg.eval_at:
            log.eval(done, run_eval(model, fmt, eval_sets, cfg, runtime, done, reference))
        if done in (cfg.steps, until) or (cfg.checkpoint_every and done % cfg.checkpoint_every == 0):
            log.checkpoint(state)


def step_mu(batch: Batch, gated_share: float) -> Callable[[str | None], float]:
    """The SFT weight of a task's rows this step: its mu (`task_mu`, else `mu`; `None` = the step's `mu`),
    plus the RL weight gating moved to SFT: mu + (1 - mu) * k / n when k of n prompts were gated."""

    def mu_of(task: str | None) -> float:
        mu = batch.mu if task is None else batch.mu_for(task)
        return mu + (1.0 - mu) * gated_share

    return mu_of


def _count(tasks) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in tasks:
        out[t] = out.get(t, 0) + 1
    return out


def run_eval(
    model: torch.nn.Module,
    fmt: Formatter,
    eval_sets: list[EvalSet],
    cfg: FitConfig,
    runtime: Runtime,
    step: int,
    reference: torch.nn.Module | None = None,
) -> dict[str, dict[str, float]]:
    """Every task's held-out metrics; KL to the starting model when `reference` is given and
    `eval_kl_samples` > 0."""
    return evaluate(
        model,
        fmt,
        eval_sets,
        max_new_tokens=cfg.eval_max_new_tokens,
        temperature=cfg.eval_temperature,
        batch_size=cfg.eval_batch_size,
        samples=cfg.eval_samples,
        generator=runtime.generator(derive_seed(cfg.seed, "eval", step)),
        autocast=runtime.autocast,
        base=reference,
        kl_samples=cfg.eval_kl_samples,
        kl_generator=runtime.generator(derive_seed(cfg.seed, "eval-kl", step)),
        kl_estimator=cfg.eval_kl_estimator,
    )


@dataclass
class ScoredRollouts:
    rollouts: Rollouts  # the rows trained on: N = P * G completions, the G of a prompt adjacent
    advantages: torch.Tensor  # (N,)
    tasks: list[str]  # (N,) the task of each row
    failed: list[bool]  # (P,) every one of the prompt's G rewards <= the batch's gate_below
    stats: dict[str, float]  # rl/reward, rl/<task>/{reward,abs_adv,rollouts}, rl/response_len, rl/zero_var_frac
    planning: torch.Tensor | None = None  # (N, R) planning tokens, for HICRA


def roll_out(
    model: torch.nn.Module, fmt: Formatter, batch: Batch, cfg: FitConfig, runtime: Runtime, step: int
) -> ScoredRollouts:
    """G samples per prompt, their rewards, group-normalized advantages; with `drop_zero_variance` the
    groups whose rewards are all equal are dropped from the rows trained on (after the stats)."""
    G, prompts = cfg.group_size, batch.rl
    repeated = [p for p in prompts for _ in range(G)]  # one row per rollout
    rollouts = generate(
        model,
        [p.prompt_ids for p in repeated],
        max_new_tokens=cfg.max_new_tokens,
        temperature=cfg.temperature,
        generator=runtime.generator(derive_seed(cfg.seed, "rollout", step)),
        stop_ids=fmt.stop_ids,
        pad_id=fmt.pad_id,
        autocast=runtime.autocast,
    )
    texts = [fmt.decode(ids.tolist()) for ids in rollouts.response_ids]
    rewards = torch.tensor(
        [p.grade(texts[i * G : (i + 1) * G]) for i, p in enumerate(prompts)], dtype=torch.float32
    )  # (P, G)
    advantages = group_advantages(rewards, cfg.adv_eps).reshape(-1).to(rollouts.response_ids.device)  # (N,)
    zero_var = rewards.std(dim=1) == 0  # (P,)
    stats = {
        "rl/reward": float(rewards.mean()),
        "rl/response_len": float(rollouts.lengths.float().mean()),
        "rl/zero_var_frac": float(zero_var.float().mean()),
    }
    for task in dict.fromkeys(p.task for p in prompts):
        rows = [i for i, p in enumerate(prompts) if p.task == task]
        stats[f"rl/{task}/reward"] = float(rewards[rows].mean())
        stats[f"rl/{task}/abs_adv"] = float(advantages.reshape(-1, G)[rows].abs().mean())
        stats[f"rl/{task}/rollouts"] = len(rows) * G
    gate = batch.gate_below
    failed = [
        gate is not None and p.demo is not None and bool((rewards[i] <= gate).all()) for i, p in enumerate(prompts)
    ]
    tasks = [p.task for p in repeated]
    planning = None
    if cfg.hicra_alpha is not None and any(p.planning is not None for p in prompts):
        patterns = {p.task: marker_regex(p.planning) for p in prompts if p.planning is not None}
        rows = [
            planning_mask(fmt, ids.tolist(), patterns[p.task]) if p.task in patterns else [False] * len(ids)
            for p, ids in zip(repeated, rollouts.response_ids)
        ]
        planning = torch.tensor(rows, dtype=torch.bool, device=rollouts.response_ids.device)
        stats["rl/planning_frac"] = float(
            (planning & rollouts.response_mask.bool()).sum() / rollouts.response_mask.sum()
        )
    scored = ScoredRollouts(rollouts, advantages, tasks, failed, stats, planning)
    # rows trained on: a group leaves the RL part when its prompt was gated (its demonstration is trained
    # instead), when its task weighs 0 in RL this step (mu 1: rolled out only to measure its reward), and
    # with drop_zero_variance when its rewards are all equal
    drop = [
        f or batch.mu_for(p.task) >= 1 or (batch.drop_zero_variance and bool(z))
        for f, z, p in zip(failed, zero_var, prompts)
    ]
    if batch.drop_zero_variance:
        stats["rl/dropped_groups"] = int(zero_var.sum())
    return keep_groups(scored, [not d for d in drop], G) if any(drop) else scored


def keep_groups(scored: ScoredRollouts, keep: list[bool], G: int) -> ScoredRollouts:
    """The rows of the prompts with `keep[i]` (each prompt's G rows are adjacent)."""
    rows = [i for i in range(len(scored.tasks)) if keep[i // G]]
    r = scored.rollouts
    index = torch.tensor(rows, dtype=torch.long, device=r.response_ids.device)
    fields = (r.prompt_ids, r.prompt_mask, r.response_ids, r.response_mask, r.logprobs, r.entropy)
    return ScoredRollouts(
        Rollouts(*(t.index_select(0, index) if t is not None else None for t in fields)),
        scored.advantages.index_select(0, index),
        [scored.tasks[i] for i in rows],
        scored.failed,
        scored.stats,
        scored.planning.index_select(0, index) if scored.planning is not None else None,
    )


def _slices(n: int, size: int | None) -> list[slice]:
    size = size or n
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def _weighted_slices(weights: list[float], size: int | None) -> list[tuple[float, slice]]:
    """Micro-batch slices that never mix two loss weights: runs of equal weight, each cut into
    micro-batches (one run, and so the plain micro-batches, when every row weighs the same)."""
    out, start = [], 0
    for i in range(1, len(weights) + 1):
        if i == len(weights) or weights[i] != weights[start]:
            out += [(weights[start], slice(start + p.start, start + p.stop)) for p in _slices(i - start, size)]
            start = i
    return out


def backward_sft(
    model: torch.nn.Module,
    fmt: Formatter,
    rows: list[SFTRow],
    weighting: str,
    mu_of: Callable[[str], float],
    cfg: FitConfig,
    runtime: Runtime,
) -> dict:
    """Accumulate mu_t * L_SFT over micro-batches (mu_t = the SFT weight of the row's task); L_SFT is
    normalized by the step's SFT token count, so the rows of every task share one denominator."""
    n_tokens = completion_token_count(rows)
    total, weighted = 0.0, 0.0
    for mu, part in _weighted_slices([mu_of(r.task) for r in rows], cfg.micro_batch):
        with runtime.autocast():
            logprobs, mask = sft_logprobs(model, rows[part], fmt.pad_id)
        loss = sft_loss(logprobs, mask, weighting, num_tokens=n_tokens)
        if mu > 0:
            (mu * loss).backward()
        value = loss.item()
        total += value
        weighted += mu * value
    return {"loss": total, "weighted": weighted, "tokens": n_tokens}


def backward_rl(
    model: torch.nn.Module,
    scored: ScoredRollouts,
    mu_of: Callable[[str], float],
    cfg: FitConfig,
    runtime: Runtime,
    reference: torch.nn.Module | None,
) -> dict:
    """Accumulate (1 - mu_t) * L_GRPO over micro-batches; normalized by the step's response token count."""
    r = scored.rollouts
    n_tokens = float(r.response_mask.sum())
    total, weighted = 0.0, 0.0
    sums = {"rl/clip_frac": 0.0, "rl/approx_kl": 0.0, "rl/kl": 0.0}
    for mu, part in _weighted_slices([mu_of(t) for t in scored.tasks], cfg.micro_batch):
        args = (r.prompt_ids[part], r.prompt_mask[part], r.response_ids[part], r.response_mask[part], cfg.temperature)
        with runtime.autocast():
            logprobs = completion_logprobs(model, *args)
            ref = None
            if reference is not None and cfg.kl_coef > 0:
                with torch.no_grad():
                    ref = completion_logprobs(reference, *args)
        loss, stats = grpo_loss(
            logprobs,
            r.logprobs[part],
            scored.advantages[part],
            r.response_mask[part],
            clip_low=cfg.clip_low,
            clip_high=cfg.clip_high,
            ref_logprobs=ref,
            kl_coef=cfg.kl_coef,
            num_tokens=n_tokens,
            planning_mask=scored.planning[part] if scored.planning is not None else None,
            hicra_alpha=cfg.hicra_alpha or 0.0,
        )
        if mu < 1:
            ((1.0 - mu) * loss).backward()
        value = loss.item()
        total += value
        weighted += (1.0 - mu) * value
        for key, value in stats.items():
            sums[f"rl/{key}"] += float(value)
    seq_tokens = int(r.prompt_mask.sum() + r.response_mask.sum())
    if reference is None or cfg.kl_coef == 0:
        sums.pop("rl/kl")
    return {"loss": total, "weighted": weighted, "tokens": int(n_tokens), "seq_tokens": seq_tokens, **sums}
