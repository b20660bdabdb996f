"""Benchmark: an SFT step of this project against TRL's SFTTrainer and a bare PyTorch loop, on the same work.
Prints figures; not a test. TRL is the `bench` extra (install torch first).

    python -m curriculum.bench.sft                       # 32 demonstrations per step, the addition task
    python -m curriculum.bench.sft --demo                # the demo's 12 per step over its six tasks

The same work on every side: the tiny-base model and tokenizer (fresh for every side and round), the same
demonstrations in the same order (the project's stream under a constant SFT-only schedule), the prompt's
tokens then the completion's with the end-of-sequence token, the loss on the completion tokens only as a
token mean over the step's completion tokens, AdamW at a constant lr 1e-6, gradient norm clipped at 1.

- project: the run's per-step work (`scheduler.decide`, `stream.batch`, `train_step`).
- bare: pad the rows, one forward, log-softmax of the completion positions, backward, clip, AdamW.
- trl: `SFTTrainer` on a prompt/completion dataset (`completion_only_loss`, no packing, no shuffling,
  gradient checkpointing off like the others), timed between its `on_step_end` callbacks; the tokens TRL
  makes of each row are checked against the project's before timing.
- trl-gc (only when asked): the same with TRL's default gradient checkpointing on.

Rows/s = demonstrations per step / median step seconds; rounds alternate as in `curriculum.bench.grpo`.
"""

from __future__ import annotations

import argparse
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
from trainer.batch import SFTRow
from trainer.model import load_model


def bare_side(catalog: Catalog, rows: list[list[SFTRow]], warmup: int, steps: int) -> Result:
    plain_torch()
    model, fmt = load_model(catalog.model, catalog.seed)
    model.eval()
    optimizer = torch.optim.AdamW(model.parameters(), lr=catalog.training.lr)
    out = Result()
    for step in range(warmup + steps):
        started = time.perf_counter()
        seqs = [r.prompt_ids + r.completion_ids for r in rows[step]]
        width = max(map(len, seqs))
        ids = torch.tensor([s + [fmt.pad_id] * (width - len(s)) for s in seqs])
        mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in seqs])
        labels = torch.tensor(
            [
                [0] * len(r.prompt_ids) + [1] * len(r.completion_ids) + [0] * (width - len(s))
                for r, s in zip(rows[step], seqs)
            ]
        )[:, 1:].float()
        logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
        logp = torch.log_softmax(logits, -1).gather(-1, ids[:, 1:, None]).squeeze(-1)
        loss = -(logp * labels).sum() / labels.sum()
        loss.backward()
        bare_update(model, optimizer, catalog, out, step, warmup, started, float(labels.sum(1).mean()))
    return out


def trl_side(
    catalog: Catalog, rows: list[list[SFTRow]], warmup: int, steps: int, folder: Path, checkpointing: bool = False
) -> Result:
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    plain_torch()
    model, fmt = load_model(catalog.model, catalog.seed)
    tok = fmt.tokenizer
    flat = [r for step in rows for r in step]
    data = {
        "prompt": [tok.decode(r.prompt_ids) for r in flat],
        "completion": [tok.decode(r.completion_ids[:-1]) for r in flat],  # TRL appends the eos token itself
    }
    out, lengths = Result(), [sum(len(r.completion_ids) for r in step) / len(step) for step in rows]

    config = SFTConfig(
        **trl_settings(catalog, folder, warmup, steps, checkpointing),
        per_device_train_batch_size=len(rows[0]),
        gradient_accumulation_steps=1,
        completion_only_loss=True,
        packing=False,
        max_length=None,
    )
    trainer = SFTTrainer(
        model=model,
        args=config,
        train_dataset=Dataset.from_dict(data),
        processing_class=tok,
        callbacks=[trl_clock(out, warmup, steps, lambda step: lengths[step - 1])],
    )
    first = trainer.train_dataset[0]
    expected = flat[0].prompt_ids + flat[0].completion_ids
    if list(first["input_ids"]) != expected:
        raise SystemExit(
            f"TRL tokenizes a row as {list(first['input_ids'])}, the project as {expected}: not the same work"
        )
    trainer.train()
    return out


def main(argv: list[str] | None = None) -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    import datasets

    datasets.disable_progress_bars()
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(prog="python -m curriculum.bench.sft", description=__doc__.split("\n")[0])
    parser.add_argument("--demo", action="store_true", help="the demo's six tasks and 12 demonstrations per step")
    parser.add_argument("--rows", type=int, help="demonstrations per step (default 32; --demo 12)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sides", default="project,bare,trl")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's, the cores)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    B = args.rows or (12 if args.demo else 32)
    sides = args.sides.split(",")
    total = args.warmup + args.steps + 2
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        names = TASKS["demo" if args.demo else "addition"]
        catalog = bench_catalog(names, 8, 2, 8, total, folder, mu=1.0, sft_batch=B)
        tasks = load_tasks(catalog, folder)
        _, fmt = load_model(catalog.model, catalog.seed)
        rows = [batch.sft for batch in step_batches(catalog, tasks, fmt, total)]
        print(
            f"SFT step, {B} demonstrations, tasks {', '.join(t.id for t in tasks)}; {args.warmup} warm-up + "
            f"{args.steps} timed steps, {args.rounds} rounds; torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads"
        )

        def run_side(side: str) -> Result:
            if side == "project":
                length = lambda batch, record: sum(len(r.completion_ids) for r in batch.sft) / len(batch.sft)  # noqa: E731
                return project_steps(catalog, args.warmup, args.steps, length)
            if side == "bare":
                return bare_side(catalog, rows, args.warmup, args.steps)
            if side in ("trl", "trl-gc"):
                return trl_side(catalog, rows, args.warmup, args.steps, folder, checkpointing=side == "trl-gc")
            raise SystemExit(f"unknown side {side!r}: project, bare, trl, trl-gc")

        results = alternate(sides, run_side, args.rounds, B, "rows/s")
    print_table(results, B, unit="rows/s")


if __name__ == "__main__":
    main()
