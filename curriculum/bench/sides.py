"""What the speed benchmarks (`curriculum.bench.grpo`, `curriculum.bench.sft`) share: their catalog, the
project's side (the run's own per-step work), TRL's step clock, the alternating rounds and the table."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from curriculum.catalog import Catalog, load_catalog
from curriculum.run.setup import load_tasks, make_scheduler
from curriculum.run.stream import Stream
from curriculum.signals.measurements import Measurements
from trainer.batch import Batch
from trainer.model import Formatter, load_model
from trainer.runtime import make_runtime
from trainer.step import make_optimizer, train_step

TASKS = {
    "addition": ["addition"],
    "demo": ["addition", "sort", "reverse", "count", "word", "digits"],
}
CATALOG = """name: bench
seed: 0
model: {{kind: builtin, name: tiny-base}}
tasks:
{tasks}
schedule: {{kind: constant, mu: {mu}, sft_batch: {sft_batch}, rl_batch: {prompts}}}
training:
  steps: {steps}
  lr: 1.0e-6
  grad_clip: 1.0
  rollout: {{group_size: {group}, max_new_tokens: {new_tokens}, temperature: 1.0}}
  checkpoint_every: 0
evaluation: {{every: 0}}
"""
TASK = """  - id: {name}
    kind: structured
    source: {{kind: builtin, name: {name}, style: expert}}
    sft: {{size: 512}}
    rl: {{size: 4096}}
    eval: {{size: 4}}
    reward: {{kind: builtin}}
"""


@dataclass
class Result:
    seconds: list[float] = field(default_factory=list)  # timed steps
    lengths: list[float] = field(default_factory=list)  # mean completion tokens per timed step
    overhead: list[float] = field(default_factory=list)  # project: scheduler + stream seconds per timed step


def bench_catalog(
    tasks: list[str],
    prompts: int,
    group: int,
    new_tokens: int,
    steps: int,
    folder: Path,
    mu: float = 0.0,
    sft_batch: int = 8,
) -> Catalog:
    """The benchmark's catalog: the tasks, a constant schedule (mu 0: RL only, 1: SFT only), lr 1e-6."""
    text = CATALOG.format(
        tasks="".join(TASK.format(name=t) for t in tasks),
        prompts=prompts,
        group=group,
        new_tokens=new_tokens,
        steps=steps,
        mu=mu,
        sft_batch=sft_batch,
    )
    path = folder / "bench.yaml"
    path.write_text(text)
    return load_catalog(path)


def step_batches(catalog: Catalog, tasks: list, fmt: Formatter, steps: int) -> list[Batch]:
    """Each step's rows, as the project's scheduler and stream give them: the same work for every side."""
    scheduler, stream = make_scheduler(catalog, tasks), Stream(tasks, fmt, catalog.seed)
    return [stream.batch(scheduler.decide(step, Measurements(step=step))) for step in range(steps)]


def project_steps(
    catalog: Catalog, warmup: int, steps: int, length: Callable[[Batch, Any], float], deterministic: bool = True
) -> Result:
    """The project's side: the run's per-step work (`scheduler.decide`, `stream.batch`, `train_step`, the
    measurements), `warmup` steps then `steps` timed; `length(batch, record)` is a step's mean completion
    tokens. `deterministic=False`: with torch's deterministic algorithms off, to measure what they cost."""
    tasks = load_tasks(catalog, Path("."))
    model, fmt = load_model(catalog.model, catalog.seed)
    runtime = make_runtime(catalog.training.device, catalog.training.logit_chunk)
    if not deterministic:
        plain_torch()
    scheduler, stream, m = make_scheduler(catalog, tasks), Stream(tasks, fmt, catalog.seed), Measurements()
    state = {"model": model, "optimizer": make_optimizer(model, catalog.training), "step": 0}
    out = Result()
    for step in range(warmup + steps):
        started = time.perf_counter()
        batch = stream.batch(scheduler.decide(step, m))
        ready = time.perf_counter()
        record = train_step(state, batch, fmt, catalog.training, runtime, catalog.seed)
        m.add_step(record)
        if step >= warmup:
            out.seconds.append(time.perf_counter() - started)
            out.overhead.append(ready - started)
            out.lengths.append(length(batch, record))
    return out


def trl_clock(out: Result, warmup: int, steps: int, length: Callable[[int], float]) -> Any:
    """A TrainerCallback that times TRL's steps between its `on_step_end` calls (steps warmup+1 ..
    warmup+steps) into `out`, with `length(global_step)` the step's mean completion tokens."""
    from transformers import TrainerCallback

    class Clock(TrainerCallback):
        last: float | None = None

        def on_step_end(self, args, state, control, **kwargs):
            now = time.perf_counter()
            if self.last is not None and warmup < state.global_step <= warmup + steps:
                out.seconds.append(now - self.last)
                out.lengths.append(length(state.global_step))
            self.last = now

    return Clock()


def alternate(
    sides: list[str], run_side: Callable[[str], Result], rounds: int, per_step: int, unit: str
) -> dict[str, list[Result]]:
    """Every side once per round, the order rotating; each side's median step said as it ends."""
    results: dict[str, list[Result]] = {s: [] for s in sides}
    for r in range(rounds):
        for side in sides[r % len(sides) :] + sides[: r % len(sides)]:
            res = run_side(side)
            results[side].append(res)
            step = statistics.median(res.seconds)
            print(
                f"  round {r + 1} {side:8s} median step {step * 1e3:7.1f} ms  {per_step / step:7.1f} {unit}  "
                f"mean completion {statistics.mean(res.lengths):.2f} tokens",
                flush=True,
            )
    return results


def bare_update(
    model: torch.nn.Module, optimizer: Any, catalog: Catalog, out: Result, step: int, warmup: int, started: float,
    length: float,
) -> None:  # fmt: skip
    """A bare loop's step after its backward: clip, AdamW, and past the warmup the step's time and mean completion
    length."""
    torch.nn.utils.clip_grad_norm_(model.parameters(), catalog.training.grad_clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    if step >= warmup:
        out.seconds.append(time.perf_counter() - started)
        out.lengths.append(length)


def trl_settings(catalog: Catalog, folder: Path, warmup: int, steps: int, checkpointing: bool) -> dict[str, Any]:
    """What TRL's GRPO and SFT configs share: the project's learning rate and clip, constant, no warmup or weight
    decay; as many steps as the rounds time (plus one); CPU in float32; no shuffling, logging or saving.
    `checkpointing`: TRL's default gradient checkpointing (the project and the bare loop do not recompute)."""
    return dict(
        output_dir=str(folder / "trl"),
        learning_rate=catalog.training.lr,
        lr_scheduler_type="constant",
        warmup_steps=0,
        weight_decay=0.0,
        max_grad_norm=catalog.training.grad_clip,
        max_steps=warmup + steps + 1,
        shuffle_dataset=False,
        logging_steps=10_000,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        bf16=False,
        gradient_checkpointing=checkpointing,
        dataloader_num_workers=0,
        seed=catalog.seed,
    )


def plain_torch() -> None:
    """The bare loop and TRL run as torch comes: no deterministic algorithms (the project's runtime turns them
    on for its own side; its cost is part of the project's figure)."""
    torch.use_deterministic_algorithms(False)
    torch.utils.deterministic.fill_uninitialized_memory = True


def print_table(results: dict[str, list[Result]], samples: int, unit: str = "samples/s") -> None:
    rates = {s: [samples / statistics.median(r.seconds) for r in rs] for s, rs in results.items()}
    median = {s: statistics.median(v) for s, v in rates.items()}
    print()
    print(f"| side | {unit} (median of rounds) | range | mean completion tokens | vs TRL | vs bare |")
    print("|---|---:|---:|---:|---:|---:|")
    for side, values in rates.items():
        lengths = statistics.mean(x for r in results[side] for x in r.lengths)
        vs = [f"{median[side] / median[o]:.2f}x" if o in median else "-" for o in ("trl", "bare")]
        print(
            f"| {side} | {median[side]:.1f} | {min(values):.1f}-{max(values):.1f} | {lengths:.2f} | {vs[0]} | {vs[1]} |"
        )
    if "project" in results:
        share = [sum(r.overhead) / sum(r.seconds) for r in results["project"]]
        print(f"\nproject: scheduler + stream {100 * statistics.median(share):.2f}% of the step (median of rounds)")
