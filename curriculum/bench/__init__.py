"""Benchmark: speed of an SFT-only, an RL-only and a mixed step on the demo catalog, and of rollout
decoding (the project's KV-cache loop against `model.generate`). Prints figures; not a test.

    python -m curriculum.bench [--catalog catalogs/demo.yaml] [--steps 10]

A step's tokens are the SFT sequences' tokens plus the RL prompts' and completions' tokens. The steps are
the run's own `trainer.step.train_step`, fed constant decisions by the run's stream.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from curriculum.catalog import load_catalog
from curriculum.records import Decision
from curriculum.run.setup import load_tasks
from curriculum.run.stream import Stream
from schedulers.base import Mixer
from trainer.model import load_model
from trainer.rollout import generate
from trainer.runtime import make_runtime
from trainer.step import make_optimizer, train_step


def bench_steps(catalog_path: str, steps: int, warmup: int = 2) -> None:
    catalog = load_catalog(catalog_path)
    base = Path(catalog_path).resolve().parent
    runtime = make_runtime(catalog.training.device, catalog.training.logit_chunk)
    tasks = load_tasks(catalog, base)
    ids = [t.id for t in tasks]
    sft_batch, rl_batch = catalog.schedule.sft_batch, catalog.schedule.rl_batch
    print(
        f"catalog {catalog.name}: sft_batch {sft_batch}, "
        f"rl_batch {rl_batch} x G {catalog.training.rollout.group_size}, "
        f"max_new_tokens {catalog.training.rollout.max_new_tokens}, device {runtime.device}, {runtime.dtype_name}, "
        f"threads {torch.get_num_threads()}"
    )
    kinds = {"sft-only": (1.0, sft_batch, 0), "rl-only": (0.0, 0, rl_batch), "mixed": (0.5, sft_batch, rl_batch)}
    weights = {t.id: t.weight for t in tasks}
    training = catalog.training.model_copy(update={"steps": warmup + steps})
    for name, (mu, n_sft, n_rl) in kinds.items():
        model, fmt = load_model(catalog.model, catalog.seed, base)
        model.to(runtime.device)
        stream, mix_sft, mix_rl = Stream(tasks, fmt, catalog.seed), Mixer(ids), Mixer(ids)
        state = {"model": model, "optimizer": make_optimizer(model, training), "step": 0}
        records = []
        for step in range(warmup + steps):
            decision = Decision(step, name, mu, mix_sft.split(n_sft, weights), mix_rl.split(n_rl, weights))
            records.append(train_step(state, stream.batch(decision), fmt, training, runtime, catalog.seed))
        timed = records[warmup:]
        secs = [r.step_seconds for r in timed]
        tps = [r.tokens_per_second for r in timed]
        print(
            f"{name:9s} {1 / statistics.mean(secs):6.2f} steps/s  {statistics.mean(tps):8.0f} tokens/s  "
            f"({statistics.mean(secs) * 1000:.0f} ms/step, "
            f"median {statistics.median(secs) * 1000:.0f} ms, n={len(secs)})"
        )


def bench_decoding(catalog_path: str, n: int = 48, max_new_tokens: int = 40, repeats: int = 5) -> None:
    """Tokens/s of sampling n completions: the project's loop against transformers' generate."""
    catalog = load_catalog(catalog_path)
    model, fmt = load_model(catalog.model, catalog.seed)
    prompts = [fmt.prompt_ids(p) for p in ["47+85=", "sort(dbca)=", "rev(hello)=", "count(a,banana)="] * (n // 4)]
    ours, theirs = [], []
    for r in range(repeats):
        t = time.perf_counter()
        out = generate(
            model,
            prompts,
            max_new_tokens=max_new_tokens,
            temperature=1.0,
            generator=torch.Generator().manual_seed(r),
            stop_ids=fmt.stop_ids,
            pad_id=fmt.pad_id,
        )
        ours.append(float(out.response_mask.sum()) / (time.perf_counter() - t))
        width = max(len(p) for p in prompts)
        ids = torch.tensor([[fmt.pad_id] * (width - len(p)) + p for p in prompts])
        mask = (torch.arange(width)[None, :] >= torch.tensor([width - len(p) for p in prompts])[:, None]).long()
        t = time.perf_counter()
        with torch.no_grad():
            gen = model.generate(
                input_ids=ids,
                attention_mask=mask,
                do_sample=True,
                temperature=1.0,
                top_k=0,
                max_new_tokens=max_new_tokens,
                pad_token_id=fmt.pad_id,
                eos_token_id=fmt.stop_ids,
            )
        new = gen[:, width:]
        stopped = torch.isin(new, torch.tensor(fmt.stop_ids))
        # tokens up to and including the first stop token of each row (generate pads the rest), counted the
        # way `response_mask` counts them for the project's loop
        after_stop = (stopped.cumsum(1) - stopped.long()) > 0
        produced = int((~after_stop).sum())
        theirs.append(produced / (time.perf_counter() - t))
    print(
        f"decoding {n} x {max_new_tokens} tokens: own KV-cache loop {statistics.median(ours):.0f} tokens/s, "
        f"model.generate {statistics.median(theirs):.0f} tokens/s (median of {repeats})"
    )


def main() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the figures are the output
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--catalog", default="catalogs/demo.yaml")
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    bench_steps(args.catalog, args.steps)
    bench_decoding(args.catalog)
