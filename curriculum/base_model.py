"""Build the `tiny-base` model: a short pre-training of the tiny architecture on the built-in tasks.

The demo must start from a base model, not random weights: one that already answers the built-in
tasks tersely, with partial accuracy, so that SFT on expert-style demonstrations visibly shifts it and
RL has something to improve. This is that model, made by the project's own code: `curriculum
build-base` writes it to `trainer/assets/tiny-base` (about 3.5 MB).

Recipe (seeded, CPU): a random tiny Llama; `rows_per_task` train rows of each built-in task, a share
`expert_fraction` (20%) of them in the expert style (`work: ` + scratchpad) and the rest in the terse
base style, so the model answers tersely by default but has seen worked solutions, as a pre-trained
LLM has; AdamW with a one-cycle learning rate; batches drawn uniformly from the mixture; loss on the
completion tokens only. Only `train` split prompts are seen, so every catalog's eval prompts stay
unseen.

700 steps stop the pre-training half way: sort and reverse are learned to about 0.8 (greedy, 64 test
prompts: addition 0.05, sort 0.77, reverse 0.86, count 0.28, word 1.00, digits 0.08), not to the 0.97
that 1500 steps reach, so there is room above the base for a schedule to show, and the SFT shift and
the readaptation are large enough to see.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import Progress

from curriculum.seeding import derive_seed, py_rng
from curriculum.stream import rl_prompt
from tasks.build import DataTask
from tasks.builtin import generate, group_reward
from tasks.registry import BUILTIN_TASKS, load_plugins
from trainer.batch import EvalSet, SFTRow
from trainer.evaluate import evaluate
from trainer.losses import sft_loss
from trainer.model import Formatter
from trainer.sft import sft_logprobs
from trainer.tiny import TINY_BASE_DIR, tiny_random


def build_base(
    out: Path = TINY_BASE_DIR,
    steps: int = 700,
    batch_size: int = 64,
    lr: float = 3e-3,
    rows_per_task: int = 3000,
    expert_fraction: float = 0.2,
    seed: int = 1234,
    eval_size: int = 64,
    console: Console | None = None,
) -> dict[str, float]:
    """Pre-train, save to `out`, return the greedy held-out score of each built-in task."""
    load_plugins()
    console = console or Console()
    model, tokenizer = tiny_random(seed)
    fmt = Formatter(tokenizer, None, [tokenizer.eos_token_id])
    rows = []
    for name, gen in BUILTIN_TASKS.items():
        n_expert = round(rows_per_task * expert_fraction)
        for style, n in (("base", rows_per_task - n_expert), ("expert", n_expert)):
            for r in generate(gen, "train", n, derive_seed(seed, style), style):
                rows.append(SFTRow(name, fmt.prompt_ids(r.prompt), fmt.completion_ids(r.completion)))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.05)
    rng = py_rng(seed, "pretrain")
    model.train()
    with Progress(console=console) as progress:
        bar = progress.add_task("pre-training tiny-base", total=steps)
        for _ in range(steps):
            batch = [rows[rng.randrange(len(rows))] for _ in range(batch_size)]
            logprobs, mask = sft_logprobs(model, batch, fmt.pad_id)
            loss = sft_loss(logprobs, mask)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            progress.update(bar, advance=1, description=f"pre-training tiny-base  loss {loss.item():.3f}")
    scores = base_scores(model, fmt, seed, eval_size)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return scores


def base_scores(model: torch.nn.Module, fmt: Formatter, seed: int, size: int = 64) -> dict[str, float]:
    """Greedy score on `size` test prompts of every built-in task (base style is what it learned)."""
    sets = []
    for name, gen in BUILTIN_TASKS.items():
        records = generate(gen, "test", size, seed, "base")
        task = DataTask(name, gen.kind, 1.0, [], [], [], records, partial(group_reward, gen))
        sets.append(EvalSet(name, gen.kind, [rl_prompt(task, r, fmt) for r in records]))
    generator = torch.Generator().manual_seed(seed)
    results = evaluate(model, fmt, sets, max_new_tokens=40, temperature=1.0, batch_size=256, generator=generator)
    return {task: m["score"] for task, m in results.items()}
