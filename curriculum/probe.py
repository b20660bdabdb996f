"""The `bwt_order` probe: measure how training each task moves every task, then pick the task order.

From the starting model, for each task j: a burst of `probe_steps` steps on task j alone (the catalog's
mix policy, built for that one task and that many steps, or a constant `probe_mu`; constant learning
rate), then a greedy
evaluation of every task; the weights and the optimizer are reset to the start before each burst and
after the last. With the start's scores `base` and the scores after burst j `after[j]`:

    D[j][i] = after[j][i] - base[i]          (how much training task j moved task i)

`curriculum.ordering.best_order` then predicts every order's final scores from D (constant transfer,
stages train their task to saturation) and picks the best, under the prerequisites. The probe costs
T bursts of `probe_steps` steps and T + 1 evaluations; those steps are reported as compute
(`probe_compute_steps`) next to the run's own steps. Each burst draws its rows and rollouts from seeds
derived from (catalog seed, "probe", task), so the probe is as deterministic as the run.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import torch
from rich.console import Console
from rich.table import Table

from curriculum.ordering import best_order, predicted_rows, transfer_matrix
from curriculum.seeding import derive_seed
from curriculum.signals import add_step_row
from curriculum.stream import Stream, eval_sets
from schedulers.base import Measurements, TaskInfo
from schedulers.registry import build_scheduler
from tasks.build import DataTask
from trainer.loop import FitConfig, fit, make_optimizer, run_eval
from trainer.model import Formatter
from trainer.runtime import Runtime


class _ProbeLog:
    """Keeps a burst's step records (for its scheduler's measurements); no tables, no checkpoints."""

    def __init__(self) -> None:
        self.measurements = Measurements()

    def step(self, record: dict) -> None:
        add_step_row(self.measurements, record)

    def eval(self, step: int, results: dict) -> None:
        pass

    def checkpoint(self, state: dict) -> None:
        pass


def probe_spec(schedule: Any) -> Any:
    """The mix policy of a probe burst: the schedule's own (without its order), or constant `probe_mu`."""
    mu = schedule.order.probe_mu
    if mu is None:
        return schedule.model_copy(update={"order": None})
    from curriculum.schema import ConstantSchedule

    return ConstantSchedule(kind="constant", mu=mu, sft_batch=schedule.sft_batch, rl_batch=schedule.rl_batch)


def probe_transfer(
    model: torch.nn.Module,
    fmt: Formatter,
    tasks: list[DataTask],
    infos: list[TaskInfo],
    schedule: Any,
    cfg: FitConfig,
    runtime: Runtime,
    console: Console,
) -> dict:
    """Run the probe and choose the order; returns the record written to the run's `order.json`."""
    started = time.time()
    order_spec = schedule.order
    inner_spec = probe_spec(schedule)
    steps = order_spec.probe_steps
    start = {k: v.detach().clone() for k, v in model.state_dict().items()}
    rng_state = torch.get_rng_state()
    sets = eval_sets(tasks, fmt)
    base_cfg = replace(
        cfg,
        steps=steps,
        warmup_steps=0,
        lr_decay="constant",
        eval_every=0,
        eval_at=(),
        checkpoint_every=0,
        eval_kl_samples=0,
        eval_samples=1,  # the probe reads greedy scores only; one sample keeps evaluation cheap
    )

    def scores(burst_cfg: FitConfig) -> dict[str, float]:
        results = run_eval(model, fmt, sets, burst_cfg, runtime, steps)
        return {task: m["score"] for task, m in results.items()}

    with console.status("probe: evaluating the starting model"):
        base = scores(replace(base_cfg, seed=derive_seed(cfg.seed, "probe", "base")))
    after: dict[str, dict[str, float]] = {}
    for k, (task, info) in enumerate(zip(tasks, infos)):
        with console.status(f"probe {k + 1}/{len(tasks)}: {steps} steps on {task.id}, then evaluating every task"):
            model.load_state_dict(start)
            burst_cfg = replace(base_cfg, seed=derive_seed(cfg.seed, "probe", task.id))
            scheduler = build_scheduler(inner_spec, [info], steps)  # inner_spec has no order
            stream = Stream([task], fmt, burst_cfg.seed)
            log = _ProbeLog()

            def next_batch(step: int, scheduler=scheduler, stream=stream, log=log):
                return stream.batch(scheduler.decide(step, log.measurements))

            state = {"model": model, "optimizer": make_optimizer(model, burst_cfg), "step": 0}
            fit(state, fmt, next_batch, [], burst_cfg, runtime, log)
            after[task.id] = scores(burst_cfg)
        gains = "  ".join(f"{t} {after[task.id][t] - base[t]:+.2f}" for t in base)
        console.print(f"[dim]probe {task.id}:[/] {gains}")
    model.load_state_dict(start)
    torch.set_rng_state(rng_state)

    ids = [t.id for t in tasks]
    D = transfer_matrix(base, after)
    result = best_order(
        ids,
        {t.id: t.kind for t in tasks},
        {t.id: list(t.requires) for t in tasks},
        base,
        D,
        exhaustive_limit=order_spec.exhaustive_limit,
    )
    rows = predicted_rows(result.order, base, D)
    return {
        "method": result.method,
        "order": result.order,
        "base": base,
        "after": after,
        "D": D,
        "predicted": result.predicted,
        "predicted_rows": [[row[t] for t in ids] for row in rows],
        "objective": result.objective,
        "candidates": result.candidates_considered,
        "probe_steps": steps,
        "probe_mix": inner_spec.kind if order_spec.probe_mu is None else f"constant mu {order_spec.probe_mu:g}",
        "probe_compute_steps": steps * len(tasks),
        "seconds": round(time.time() - started, 1),
    }


def render_probe(probe: dict, console: Console) -> None:
    """The transfer matrix and the chosen order."""
    ids = list(probe["base"])
    table = Table(
        title="transfer D[j -> i]: score change of task i after a probe burst on task j", title_justify="left"
    )
    table.add_column("probe on j")
    for t in ids:
        table.add_column(t, justify="right")
    table.add_row("[dim]base score[/]", *(f"{probe['base'][t]:.2f}" for t in ids))
    for j in ids:
        table.add_row(j, *(f"{probe['D'][j][t]:+.2f}" for t in ids))
    console.print(table)
    console.print(
        f"order ({probe['method']}, {probe['candidates']} candidates): [bold]{' -> '.join(probe['order'])}[/]; "
        f"predicted mean score {probe['objective']:.3f}; probe compute {probe['probe_compute_steps']} steps "
        f"in {probe['seconds']} s"
    )
