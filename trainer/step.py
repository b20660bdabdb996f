"""One training step: `train_step(state, batch, ...) -> StepRecord`.

The step carries out its decision: roll out the RL prompts G times, grade them, normalize advantages
within each group; gate the all-failed prompts into SFT and drop the groups that leave the RL part
(`trainer.rl`); then the mixed objective of CHORD (arXiv 2508.11408, eq. 4)

    L = (1 - mu) * L_RL + mu * L_SFT

where L_SFT is the token mean of the SFT loss over the step's SFT tokens, L_RL the GRPO loss's token
mean over the step's RL response tokens, and mu may differ per task (`Decision.task_mu`). Both parts are
sums over micro-batches of one mu each, so the gradient is accumulated micro-batch by micro-batch:
mu * L_SFT(micro-batch), then (1 - mu) * L_RL(micro-batch). Gradient clip, AdamW with the learning-rate
schedule, a typed record. A step with no RL prompts generates nothing, so staged SFT costs what SFT costs.

The step runs the model in eval mode: no dropout in the rollouts or in the RL forward, so the RL log-probs
are the sampler's (ratio 1 and k3 0 before the first update). `training.dropout: true` turns the model's
dropout on for the SFT forward only, with masks seeded by (run seed, "dropout", step) (`sft_dropout`).

State is a plain dict (`model`, `optimizer`, `step`), the one a checkpoint saves.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import Counter
from dataclasses import replace
from typing import Callable, Iterator

import torch

from curriculum.records import Decision, RLLossStats, StepRecord
from curriculum.seeding import derive_seed
from trainer.batch import Batch, SFTRow
from trainer.config import TrainingSpec
from trainer.distributed import Dist, Replicas
from trainer.losses import grpo_loss, sft_loss
from trainer.model import Formatter
from trainer.rl import ScoredRollouts, gated_prompts, groups_to_drop, keep_groups, roll_out, zero_variance
from trainer.rollout import completion_logprobs
from trainer.runtime import Diverged, Runtime
from trainer.sft import completion_token_count, sft_logprobs


def lr_at(step: int, training: TrainingSpec) -> float:
    """Linear warmup over `warmup_steps`, then constant or cosine decay to 0 at the last step (and 0 past it,
    where a compute budget lets a run go on)."""
    if step < training.warmup_steps:
        return training.lr * (step + 1) / training.warmup_steps
    if training.lr_decay == "cosine":
        progress = min(1.0, (step - training.warmup_steps) / max(training.steps - training.warmup_steps, 1))
        return training.lr * 0.5 * (1.0 + math.cos(math.pi * progress))
    return training.lr


def make_optimizer(model: torch.nn.Module, training: TrainingSpec) -> torch.optim.Optimizer:
    return torch.optim.AdamW(model.parameters(), lr=training.lr, weight_decay=training.weight_decay)


def train_step(
    state: dict,
    batch: Batch,
    fmt: Formatter,
    training: TrainingSpec,
    runtime: Runtime,
    seed: int,
    reference: torch.nn.Module | None = None,
) -> StepRecord:
    """One optimizer step on `state["model"]`; advances `state["step"]`. `seed` seeds the rollouts (with the
    step); `reference` is a frozen copy of the starting model, for the k3 KL penalty (`grpo.kl_coef`).

    Under torchrun (`state["replicas"]`, `trainer.distributed`) each rank rolls out and trains its share of the
    step's prompts and rows; token counts, loss values and rollout statistics are summed over the ranks, and the
    gradients meet before the clip, so every rank returns the same record and takes the same update."""
    model, optimizer, d = state["model"], state["optimizer"], batch.decision
    step, started, ranks = state["step"], time.perf_counter(), runtime.dist
    replicas = state.get("replicas")
    if ranks.world > 1 and replicas is None:
        raise RuntimeError("a multi-process step needs state['replicas'] (trainer.distributed.Replicas)")
    for group in optimizer.param_groups:
        group["lr"] = lr_at(step, training)
    optimizer.zero_grad(set_to_none=True)
    with replicas.full_weights() if replicas is not None else contextlib.nullcontext():
        scored, gated, mu_of, train_rows, sft, rl = _passes(
            state, batch, fmt, training, runtime, seed, reference, replicas
        )
    sft, rl = _summed(ranks, sft), _summed(ranks, rl)
    max_norm = training.grad_clip if training.grad_clip is not None else float("inf")
    grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm))  # the same on every rank
    loss = (rl["weighted"] if rl else 0.0) + (sft["weighted"] if sft else 0.0)  # the value of L
    if not (math.isfinite(loss) and math.isfinite(grad_norm)):
        optimizer.zero_grad(set_to_none=True)
        parts = f"SFT loss {sft['loss'] if sft else None}, RL loss {rl['loss'] if rl else None}, grad norm {grad_norm}"
        raise Diverged(
            f"step {step}: the loss or its gradient is not finite ({parts}); stopped before the update, so no "
            "such weight was written",
            "the last checkpoint is intact: lower training.lr (or check the rewards and the model's dtype), then "
            "start again, or resume with `curriculum train --resume RUN`",
        )
    optimizer.step()
    state["step"] = step + 1

    seconds = time.perf_counter() - started
    tokens = (sft["tokens"] if sft else 0) + (rl["seq_tokens"] if rl else 0)
    return StepRecord(
        step=step,
        stage=d.stage,
        mu=mu_of(None),
        lr=optimizer.param_groups[0]["lr"],
        loss=loss,
        sft_loss=sft["loss"] if sft else None,
        rl_loss=rl["loss"] if rl else None,
        grad_norm=grad_norm,
        sft_tokens=sft["tokens"] if sft else 0,
        rl_tokens=rl["tokens"] if rl else 0,
        sft_rows=dict(Counter(r.task for r in batch.sft)),
        rl_prompts=dict(Counter(p.task for p in batch.rl)),
        gated=sum(gated) if d.gate_below is not None else None,
        rollouts=scored.stats if scored else None,
        rl=rl["stats"] if rl else None,
        step_seconds=seconds,
        tokens_per_second=tokens / seconds if seconds > 0 else 0.0,
        sft_seq_tokens=sum(len(r.prompt_ids) + len(r.completion_ids) for r in train_rows),
        rl_seq_tokens=rl["seq_tokens"] if rl else 0,
        prefill_tokens=scored.prefill_tokens if scored is not None else 0,
        generated_tokens=scored.generated_tokens if scored is not None else 0,
        reference_tokens=rl["seq_tokens"] if rl and reference is not None and training.grpo.kl_coef > 0 else 0,
    )


def _passes(
    state: dict,
    batch: Batch,
    fmt: Formatter,
    training: TrainingSpec,
    runtime: Runtime,
    seed: int,
    reference: torch.nn.Module | None,
    replicas: Replicas | None,
) -> tuple:
    """The step's rollouts and backward passes on this rank, its gradients summed over the ranks at the end:
    (scored rollouts, gated prompts, mu_of, the step's SFT rows, this rank's SFT part, its RL part)."""
    model, d, step, ranks = state["model"], batch.decision, state["step"], runtime.dist
    scale = replicas.scale if replicas is not None else 1.0
    model.eval()  # no dropout: rollouts and the RL forward must see the model the sampler saw
    G = training.rollout.group_size
    scored = roll_out(model, fmt, batch.rl, training, runtime, seed, step) if batch.rl else None
    gated = gated_prompts(batch.rl, scored.rewards, d.gate_below) if scored else []
    train_rows = list(batch.sft) + [
        SFTRow(p.task, p.prompt_ids, fmt.completion_ids(p.demo)) for p, g in zip(batch.rl, gated) if g
    ]
    mu_of = step_mu(d, sum(gated) / len(batch.rl) if batch.rl else 0.0)
    # SFT rows at mu 0 train nothing and stay out of the SFT token mean, as RL groups at mu 1 leave the
    # RL part: neither dilutes the rows that train
    train_rows = [fit(r, training.max_seq_len) for r in train_rows if mu_of(r.task) > 0]
    sft_tokens = completion_token_count(train_rows)  # the step's, over every rank's rows
    my_rows = [train_rows[k] for k in ranks.mine(len(train_rows))]
    if scored is not None:
        dropped = int(zero_variance(scored.rewards).sum()) if d.drop_zero_variance else None
        scored = replace(scored, stats=replace(scored.stats, dropped_groups=dropped))
        drop = groups_to_drop(batch.rl, scored.rewards, gated, d)
        if any(drop):
            scored = keep_groups(scored, [not x for x in drop], G)

    # L = (1 - mu) * L_RL + mu * L_SFT: each backward adds its part's term of the gradient of L
    sft = rl = None
    rl_tokens = ranks.sum([scored.rollouts.response_mask.sum()])[0] if scored is not None else 0.0
    with checkpointing(model):
        if train_rows:
            # each rank its own masks (one process: the seed as before); dropout runs differ between process counts
            key = (step,) if ranks.world == 1 else (step, "rank", ranks.rank)
            with sft_dropout(model, training.dropout, derive_seed(seed, "dropout", *key)):
                sft = backward_sft(model, fmt, my_rows, d.sft_weighting, mu_of, training, runtime, sft_tokens, scale)
        if rl_tokens:
            rl = backward_rl(model, scored, mu_of, training, runtime, reference, rl_tokens, scale)
    if replicas is not None:
        replicas.reduce()
    return scored, gated, mu_of, train_rows, sft, rl


@contextlib.contextmanager
def sft_dropout(model: torch.nn.Module, on: bool, seed: int) -> Iterator[None]:
    """The SFT forward with the model's dropout (`training.dropout`), its masks drawn from torch's global
    generator seeded by (run seed, "dropout", step), so a run and its resume draw the same masks; the
    global generator's state is put back after. Off: nothing changes (the model stays in eval mode)."""
    if not on:
        yield
        return
    state = torch.random.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    modes = [(m, m.training) for m in model.modules()]
    torch.manual_seed(seed)
    model.train()
    try:
        yield
    finally:
        for m, mode in modes:  # back as it was (eval, checkpointing layers in training mode)
            m.training = mode
        torch.random.set_rng_state(state)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)


@contextlib.contextmanager
def checkpointing(model: torch.nn.Module) -> Iterator[None]:
    """The backward passes with gradient checkpointing, when the model has it on (`training.gradient_checkpointing`,
    `trainer.model.enable_checkpointing`). A transformers layer checkpoints only in training mode, while the step
    runs the model in eval mode (no dropout): only the checkpointing layers themselves are put in training mode,
    not their children, and `enable_checkpointing` refuses models with dropout, so nothing else changes."""
    layers = [m for m in model.modules() if getattr(m, "gradient_checkpointing", False) is True]
    modes = [m.training for m in layers]
    for m in layers:
        m.training = True
    try:
        yield
    finally:
        for m, mode in zip(layers, modes):
            m.training = mode


def fit(row: SFTRow, max_seq_len: int | None) -> SFTRow:
    """The row cut to `max_seq_len` tokens (`training.max_seq_len`): its completion loses its end; the prompt
    stays whole (a prompt alone over the limit keeps one completion token)."""
    if max_seq_len is None or len(row.prompt_ids) + len(row.completion_ids) <= max_seq_len:
        return row
    return replace(row, completion_ids=row.completion_ids[: max(1, max_seq_len - len(row.prompt_ids))])


def step_mu(decision: Decision, gated_share: float) -> Callable[[str | None], float]:
    """The SFT weight of a task's rows this step: its mu (`task_mu`, else `mu`; `None` = the step's `mu`),
    plus the RL weight gating moved to SFT: mu + (1 - mu) * k / n when k of n prompts were gated."""

    def mu_of(task: str | None) -> float:
        mu = decision.mu if task is None else decision.mu_for(task)
        return mu + (1.0 - mu) * gated_share

    return mu_of


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
    training: TrainingSpec,
    runtime: Runtime,
    n_tokens: int | None = None,
    scale: float = 1.0,
) -> dict:
    """Accumulate the gradient of mu * L_SFT over micro-batches (mu of each row's task). L_SFT is normalized
    by the step's SFT token count (`n_tokens`: over every rank's rows; default: these rows'), so the rows of
    every task share one denominator. `scale`: the passes' weight (`Replicas.scale`).
    Returns {"loss": these rows' part of L_SFT, "weighted": its share of L, "tokens": the denominator}."""
    n_tokens = completion_token_count(rows) if n_tokens is None else n_tokens
    total, weighted = 0.0, 0.0
    for mu, part in _weighted_slices([mu_of(r.task) for r in rows], training.micro_batch):
        with runtime.autocast():
            logprobs, mask = sft_logprobs(model, rows[part], fmt.pad_id, runtime.logit_chunk)
        loss = sft_loss(logprobs, mask, weighting, num_tokens=n_tokens)  # this micro-batch's part of L_SFT
        if mu > 0:
            (mu * loss * scale).backward()  # the mu * L_SFT term of L
        value = loss.item()
        total += value
        weighted += mu * value
    return {"loss": total, "weighted": weighted, "tokens": n_tokens}


def backward_rl(
    model: torch.nn.Module,
    scored: ScoredRollouts,
    mu_of: Callable[[str], float],
    training: TrainingSpec,
    runtime: Runtime,
    reference: torch.nn.Module | None,
    n_tokens: float | None = None,
    scale: float = 1.0,
) -> dict:
    """Accumulate the gradient of (1 - mu) * L_RL over micro-batches; L_RL (GRPO) is normalized by the step's
    response token count (`n_tokens`: over every rank's rows; default: these rows'). `scale`: as in
    `backward_sft`. Returns {"loss", "weighted", "tokens", "seq_tokens" (prompt + response tokens of the rows),
    "stats" (RLLossStats)}: these rows' parts."""
    r, grpo, temperature = scored.rollouts, training.grpo, training.rollout.temperature
    n_tokens = float(r.response_mask.sum()) if n_tokens is None else n_tokens
    total, weighted = 0.0, 0.0
    sums = {"clip_frac": 0.0, "approx_kl": 0.0, "kl": 0.0}
    for mu, part in _weighted_slices([mu_of(t) for t in scored.tasks], training.micro_batch):
        args = (r.prompt_ids[part], r.prompt_mask[part], r.response_ids[part], r.response_mask[part], temperature)
        args += (runtime.logit_chunk,)
        with runtime.autocast():
            logprobs = completion_logprobs(model, *args)
            ref = None
            if reference is not None and grpo.kl_coef > 0:
                with torch.no_grad():
                    ref = completion_logprobs(reference, *args)
        loss, stats = grpo_loss(
            logprobs,
            r.logprobs[part],
            scored.advantages[part],
            r.response_mask[part],
            clip_low=grpo.clip_low,
            clip_high=grpo.clip_high,
            ref_logprobs=ref,
            kl_coef=grpo.kl_coef,
            num_tokens=n_tokens,
            planning_mask=scored.planning[part] if scored.planning is not None else None,
            hicra_alpha=grpo.hicra_alpha or 0.0,
        )  # this micro-batch's part of L_RL
        if mu < 1:
            ((1.0 - mu) * loss * scale).backward()  # the (1 - mu) * L_RL term of L
        value = loss.item()
        total += value
        weighted += (1.0 - mu) * value
        for key, value in stats.items():
            sums[key] += float(value)
    with_kl = reference is not None and grpo.kl_coef > 0
    return {
        "loss": total,
        "weighted": weighted,
        "tokens": int(n_tokens),
        "seq_tokens": int(r.prompt_mask.sum() + r.response_mask.sum()),
        "stats": RLLossStats(sums["clip_frac"], sums["approx_kl"], sums["kl"] if with_kl else None),
    }


def _summed(ranks: Dist, part: dict | None) -> dict | None:
    """A part's loss values and counts (`backward_sft`, `backward_rl`: this rank's rows) summed over the ranks:
    the step's. Every rank has the part when any has (possibly with no rows of its own)."""
    if part is None or ranks.world == 1:
        return part
    keys = [k for k in ("loss", "weighted", "seq_tokens") if k in part]
    stats = part.get("stats")
    extra = [stats.clip_frac, stats.approx_kl, stats.kl or 0.0] if stats is not None else []
    summed = ranks.sum([part[k] for k in keys] + extra)
    out = {**part, **dict(zip(keys, summed))}
    if "seq_tokens" in out:
        out["seq_tokens"] = int(out["seq_tokens"])
    if stats is not None:
        clip_frac, approx_kl, kl = summed[len(keys) :]
        out["stats"] = RLLossStats(clip_frac, approx_kl, kl if stats.kl is not None else None)
    return out
