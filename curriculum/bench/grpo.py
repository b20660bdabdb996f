"""Benchmark: an RL (GRPO) step of this project against TRL's GRPOTrainer and against a bare PyTorch loop, on
exactly the same work. Prints figures; not a test. TRL is the `bench` extra (install torch first).

    python -m curriculum.bench.grpo                      # P x G = 32 x 8, 8 new tokens, the addition task
    python -m curriculum.bench.grpo --demo               # the demo's 12 x 4, 56 new tokens, its six tasks
    python -m curriculum.bench.grpo --sides project,bare --rounds 3 --steps 20
    python -m curriculum.bench.grpo --busy [--threads 1]  # a competing process spins on one core

The same work on every side: the tiny-base model and tokenizer (fresh from its weights for every side and
round), the same prompts in the same order (the project's stream, with a constant RL-only schedule), G
completions each, at most `max_new_tokens` new tokens, temperature 1, no top-k/top-p; the task's own
reward; advantages (r - mean) / (std + 1e-6) within each group (sample std); the token-mean ("dapo") GRPO
loss over all the step's completion tokens, no KL, one optimizer step per generation batch (ratio 1, so
the clip never acts); AdamW at a constant lr 1e-6 (so every side keeps generating the same lengths),
gradient norm clipped at 1.

The sides:
- project: the run's own per-step work: `scheduler.decide`, `stream.batch`, `train_step`, the measurements.
- project-nondet (only when asked): the same with torch's deterministic algorithms off: what determinism costs.
- bare: generate with a KV cache (left-padded prompts, position ids from the mask, stop at eos), decode and
  grade, one forward/backward of the same loss, clip, AdamW. Nothing else.
- trl: `GRPOTrainer` with the settings above (`per_device_train_batch_size` = P x G completions,
  `num_generations` = G, `steps_per_generation` = 1, `loss_type` dapo, `beta` 0, no shuffling, no gradient
  checkpointing: TRL turns it on by default, the other sides do not recompute), timed
  between its `on_step_end` callbacks.
- trl-gc (only when asked): the same with TRL's default gradient checkpointing on.

Each round runs every side once (the order rotates), `--warmup` steps then `--steps` timed steps; a side's
figure is the median step of a round; the table shows the median over rounds and the range. Samples/s =
P x G completions per step / step seconds. The mean completion length of every side is printed: the sides
must match, or the comparison is void.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

from curriculum.bench.sides import (
    TASKS,
    Result,
    alternate,
    bare_update,
    bench_catalog,
    plain_torch,
    print_table,
    project_steps,
    step_batches,
    trl_clock,
    trl_settings,
)
from curriculum.catalog import Catalog
from curriculum.run.setup import load_tasks
from trainer.batch import RLPrompt
from trainer.model import load_model


# --------------------------------------------------------------------------------------------------- bare
@torch.no_grad()
def bare_generate(model, prompts: list[list[int]], new_tokens: int, stop: list[int], pad: int, gen: torch.Generator):
    """Sample with a KV cache: (prompt ids (N, P), prompt mask, completion ids (N, R), completion mask)."""
    width = max(len(p) for p in prompts)
    ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    positions = (mask.cumsum(1) - 1).clamp(min=0)
    out = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1)
    cache, attention = out.past_key_values, mask
    stop_ids = torch.tensor(stop)
    done = torch.zeros(len(prompts), dtype=torch.bool)
    tokens, masks = [], []
    next_pos = positions[:, -1:] + 1
    logits = out.logits[:, -1]
    for _ in range(new_tokens):
        token = torch.multinomial(torch.softmax(logits.float(), -1), 1, generator=gen).squeeze(1)
        token = torch.where(done, torch.full_like(token, pad), token)
        tokens.append(token)
        masks.append(~done)
        done = done | torch.isin(token, stop_ids)
        if bool(done.all()):
            break
        attention = torch.cat([attention, torch.ones(len(prompts), 1, dtype=attention.dtype)], 1)
        step_inputs = {"input_ids": token[:, None], "attention_mask": attention, "position_ids": next_pos}
        out = model(**step_inputs, past_key_values=cache, use_cache=True)
        cache, logits, next_pos = out.past_key_values, out.logits[:, -1], next_pos + 1
    return ids, mask, torch.stack(tokens, 1), torch.stack(masks, 1).long()


def bare_side(catalog: Catalog, prompts: list[list[RLPrompt]], warmup: int, steps: int) -> Result:
    plain_torch()
    model, fmt = load_model(catalog.model, catalog.seed)
    model.eval()
    G, T = catalog.training.rollout.group_size, catalog.training.rollout.max_new_tokens
    optimizer = torch.optim.AdamW(model.parameters(), lr=catalog.training.lr)
    gen = torch.Generator().manual_seed(0)
    out = Result()
    for step in range(warmup + steps):
        started = time.perf_counter()
        rows = [p for p in prompts[step] for _ in range(G)]
        p_ids, p_mask, c_ids, c_mask = bare_generate(
            model, [p.prompt_ids for p in rows], T, fmt.stop_ids, fmt.pad_id, gen
        )
        texts = [fmt.decode(ids.tolist()) for ids in c_ids]
        rewards = torch.tensor([p.grade(texts[i * G : (i + 1) * G]) for i, p in enumerate(prompts[step])])
        adv = ((rewards - rewards.mean(1, keepdim=True)) / (rewards.std(1, keepdim=True) + 1e-6)).reshape(-1)
        ids, mask = torch.cat([p_ids, c_ids], 1), torch.cat([p_mask, c_mask], 1)
        positions = (mask.cumsum(1) - 1).clamp(min=0)
        logits = model(input_ids=ids, attention_mask=mask, position_ids=positions).logits
        logits = logits[:, p_ids.shape[1] - 1 : -1].float()
        logp = torch.log_softmax(logits, -1).gather(-1, c_ids[..., None]).squeeze(-1)
        m = c_mask.float()
        loss = -((adv[:, None] * torch.exp(logp - logp.detach())) * m).sum() / m.sum()
        loss.backward()
        bare_update(model, optimizer, catalog, out, step, warmup, started, float(m.sum(1).mean()))
    return out


# ---------------------------------------------------------------------------------------------------- TRL
def trl_side(
    catalog: Catalog, prompts: list[list[RLPrompt]], warmup: int, steps: int, folder: Path, checkpointing: bool = False
) -> Result:
    """`checkpointing` (side trl-gc): TRL's default gradient checkpointing, which recomputes the forward."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    plain_torch()
    model, fmt = load_model(catalog.model, catalog.seed)
    tok = fmt.tokenizer
    G, T = catalog.training.rollout.group_size, catalog.training.rollout.max_new_tokens
    texts, graders = [], {}
    for step_prompts_ in prompts:
        for p in step_prompts_:
            text = tok.decode(p.prompt_ids)
            if tok(text).input_ids != p.prompt_ids:
                raise SystemExit(f"TRL would tokenize the prompt {text!r} differently: the sides would not match")
            texts.append(text)
            graders[text] = p.grade
    out, lengths = Result(), []

    def reward(prompts: list[str], completions: list[str], completion_ids: list[list[int]], **_) -> list[float]:
        lengths.append(sum(map(len, completion_ids)) / len(completion_ids))
        return [float(graders[p]([c])[0]) for p, c in zip(prompts, completions)]

    config = GRPOConfig(
        **trl_settings(catalog, folder, warmup, steps, checkpointing),
        per_device_train_batch_size=len(prompts[0]) * G,
        num_generations=G,
        steps_per_generation=1,
        gradient_accumulation_steps=1,
        num_iterations=1,
        max_completion_length=T,
        temperature=1.0,
        top_k=0,
        top_p=1.0,
        beta=0.0,
        loss_type="dapo",
        scale_rewards="group",
        disable_dropout=True,
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=reward,
        args=config,
        train_dataset=Dataset.from_dict({"prompt": texts}),
        processing_class=tok,
        callbacks=[trl_clock(out, warmup, steps, lambda step: lengths[-1])],
    )
    trainer.train()
    return out


# ---------------------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    warnings.filterwarnings("ignore")  # TRL and transformers deprecation notes; the figures are the output
    os.environ.setdefault("TQDM_DISABLE", "1")
    parser = argparse.ArgumentParser(prog="python -m curriculum.bench.grpo", description=__doc__.split("\n")[0])
    parser.add_argument("--demo", action="store_true", help="the demo's configuration: its 6 tasks, 12 x 4, 56 tokens")
    parser.add_argument("--prompts", type=int, help="P: prompts per step (default 32; --demo 12)")
    parser.add_argument("--group", type=int, help="G: completions per prompt (default 8; --demo 4)")
    parser.add_argument("--new-tokens", type=int, help="max new tokens (default 8; --demo 56)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per side and round")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sides", default="project,bare,trl")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's, the cores)")
    parser.add_argument("--busy", action="store_true", help="with a competing process spinning on one core")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.busy else None
    try:
        run(args)
    finally:
        if spinner is not None:
            spinner.kill()


def run(args: argparse.Namespace) -> None:
    P = args.prompts or (12 if args.demo else 32)
    G = args.group or (4 if args.demo else 8)
    T = args.new_tokens or (56 if args.demo else 8)
    sides = args.sides.split(",")
    total = args.warmup + args.steps + 2
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        catalog = bench_catalog(TASKS["demo" if args.demo else "addition"], P, G, T, total, folder)
        tasks = load_tasks(catalog, folder)
        _, fmt = load_model(catalog.model, catalog.seed)
        prompts = [batch.rl for batch in step_batches(catalog, tasks, fmt, total)]
        print(
            f"GRPO step, {P} prompts x G {G} = {P * G} completions, up to {T} new tokens, tasks "
            f"{', '.join(t.id for t in tasks)}; {args.warmup} warm-up + {args.steps} timed steps, {args.rounds} "
            f"rounds; torch {torch.__version__}, {torch.get_num_threads()} threads"
            + ("; a competing process spins on one core" if args.busy else "")
        )

        def run_side(side: str) -> Result:
            if side in ("project", "project-nondet"):
                length = lambda batch, record: record.rollouts.response_len  # noqa: E731
                return project_steps(catalog, args.warmup, args.steps, length, deterministic=side == "project")
            if side == "bare":
                return bare_side(catalog, prompts, args.warmup, args.steps)
            if side in ("trl", "trl-gc"):
                return trl_side(catalog, prompts, args.warmup, args.steps, folder, checkpointing=side == "trl-gc")
            raise SystemExit(f"unknown side {side!r}: project, project-nondet, bare, trl, trl-gc")

        results = alternate(sides, run_side, args.rounds, P * G, "samples/s")
    print_table(results, P * G)


if __name__ == "__main__":
    main()
