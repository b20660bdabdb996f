"""Build the `tiny-base` model: a short pre-training of the tiny architecture on the built-in tasks.

The demo must start from a base model, not random weights: one that already answers the built-in
tasks tersely, with partial accuracy, so that SFT on expert-style demonstrations visibly shifts it and
has something to teach. This is that model, made by the project's own code: `curriculum build-base`
writes it to `trainer/assets/tiny-base` (about 3.5 MB; 7 to 10 minutes on 2 CPU cores).

Recipe (seeded, CPU): a random tiny Llama; `rows_per_task` train rows of each built-in task, a share
of them (`EXPERT_FRACTION`) in the expert style and the rest in the terse base style; AdamW with a
one-cycle learning rate; batches drawn uniformly from the mixture; loss on the completion tokens only.
Only `train` split prompts are seen, so every catalog's eval prompts stay unseen.

Expert rows are *cued*: the first character of the expert mark (`w` of `work: `) sits at the end of
the prompt, so the model learns to finish the mark and work the scratchpad once a scratchpad is
started, but is never trained to start one: its first answer token is trained on terse answers only.
That is a base LLM that reasons step by step when led there and answers at once by default. (A terse
answer that itself begins with `w`, as `word(w..o,5)=` may, writes the cue, and the model may go on
into `work: `: harmless, the answer after `=>` is graded.) The expert share is larger where the
scratchpad carries a procedure the terse answer cannot (addition's carries, count's running tally:
0.5) or is long (reverse's spelled chain: 0.35) than elsewhere (0.2).

What the demo starts from (greedy, 64 test prompts of seed 0, `curriculum train catalogs/demo.yaml`
step 0): addition 0.19, sort 0.97, reverse 0.98, count 0.62, word 1.00, digits 0.25. Started on a
scratchpad (`base_scores`, printed by `curriculum build-base`), it adds and counts at 0.9 and more:
the capability is there, the habit is not, and 32 expert demonstrations per task change the habit.
Sort and reverse lose accuracy while the habit changes (the SFT shift) and regain it under RL (the
readaptation).
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Callable

import torch

from curriculum.run.stream import rl_prompt
from curriculum.seeding import derive_seed, py_rng
from tasks.base import final_answer
from tasks.build import BUILTIN_TASKS, DataTask
from tasks.builtin import EXPERT_MARK, generate, group_reward
from trainer.batch import EvalSet, SFTRow
from trainer.evaluate import evaluate
from trainer.losses import sft_loss
from trainer.model import Formatter
from trainer.sft import sft_logprobs
from trainer.tiny import TINY_BASE_DIR, tiny_random

# Share of each built-in task's pre-training rows in the expert style (0.2 for tasks not named).
EXPERT_FRACTION = {"addition": 0.5, "count": 0.5, "reverse": 0.35}
DEFAULT_EXPERT_FRACTION = 0.2
PRETRAIN_STEPS = 2000


def build_base(
    out: Path = TINY_BASE_DIR,
    steps: int = PRETRAIN_STEPS,
    batch_size: int = 64,
    lr: float = 3e-3,
    rows_per_task: int = 3000,
    expert_fraction: dict[str, float] | None = None,
    seed: int = 1234,
    eval_size: int = 64,
    on_step: Callable[[int, float], None] | None = None,
) -> dict[str, dict[str, float]]:
    """Pre-train, save to `out`, return the greedy held-out scores of each built-in task (`base_scores`).
    `on_step(step, loss)` hears of every pre-training step (a progress bar)."""
    model, tokenizer = tiny_random(seed)
    fmt = Formatter(tokenizer, None, [tokenizer.eos_token_id])
    fractions = EXPERT_FRACTION if expert_fraction is None else expert_fraction
    rows = []
    for name, gen in BUILTIN_TASKS.items():
        n_expert = round(rows_per_task * fractions.get(name, DEFAULT_EXPERT_FRACTION))
        for style, n in (("base", rows_per_task - n_expert), ("expert", n_expert)):
            for r in generate(gen, "train", n, derive_seed(seed, style), style):
                rows.append(pretraining_row(fmt, name, r.prompt, r.completion))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.05)
    rng = py_rng(seed, "pretrain")
    model.train()
    for step in range(steps):
        batch = [rows[rng.randrange(len(rows))] for _ in range(batch_size)]
        logprobs, mask = sft_logprobs(model, batch, fmt.pad_id)
        loss = sft_loss(logprobs, mask)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if on_step is not None:
            on_step(step, loss.item())
    scores = base_scores(model, fmt, seed, eval_size)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return scores


def pretraining_row(fmt: Formatter, task: str, prompt: str, completion: str) -> SFTRow:
    """A pre-training row; an expert completion is cued: its first character moves into the prompt."""
    if completion.startswith(EXPERT_MARK):
        prompt, completion = prompt + completion[0], completion[1:]
    return SFTRow(task, fmt.prompt_ids(prompt), fmt.completion_ids(completion))


def base_scores(model: torch.nn.Module, fmt: Formatter, seed: int, size: int = 64) -> dict[str, dict[str, float]]:
    """Greedy score on `size` test prompts of every built-in task: `default` as the model answers by
    itself (tersely), `worked` when its answer is started with the expert mark (`work: `), i.e. what it
    can do once a scratchpad is begun."""
    mark = fmt.tokenizer(EXPERT_MARK, add_special_tokens=False).input_ids
    sets = []
    for name, gen in BUILTIN_TASKS.items():
        records = generate(gen, "test", size, seed, "base")
        task = DataTask(name, gen.kind, 1.0, [], [], [], records, partial(group_reward, gen), final_answer)
        prompts = [rl_prompt(task, r, fmt) for r in records]
        sets.append(EvalSet(name, gen.kind, prompts, final_answer))
        worked = [replace(p, prompt_ids=p.prompt_ids + mark) for p in prompts]
        sets.append(EvalSet(f"{name}/worked", gen.kind, worked, final_answer))
    generator = torch.Generator().manual_seed(seed)
    results = evaluate(model, fmt, sets, max_new_tokens=56, temperature=1.0, batch_size=256, generator=generator)
    return {name: {"default": results[name].score, "worked": results[f"{name}/worked"].score} for name in BUILTIN_TASKS}
