"""The `bwt_order` probe: measure how training each task moves every task, then pick the task order.

From the starting model, for each task j: a burst of `probe_steps` steps on task j alone (the catalog's
mix policy, built for that one task and that many steps, or a constant `probe_mu`; constant learning
rate), then a greedy evaluation of every task; the weights and the optimizer are reset to the start
before each burst and after the last. With the start's scores `base` and the scores after burst j `after[j]`:

    D[j][i] = after[j][i] - base[i]          (how much training task j moved task i)

`curriculum.signals.ordering.best_order` then predicts every order's final scores from D (constant transfer,
stages train their task to saturation) and picks the best, under the prerequisites. The probe costs
T bursts of `probe_steps` steps and T + 1 evaluations; those steps are reported as compute
(`probe_compute_steps`) next to the run's own steps. Each burst draws its rows and rollouts from seeds
derived from (catalog seed, "probe", task), so the probe is as deterministic as the run. A burst runs
the same `trainer.step.train_step` as the run, with its own scheduler, stream and measurements.
"""

from __future__ import annotations

import time

import torch

from curriculum.catalog import Catalog
from curriculum.compute import Ledger
from curriculum.run.display import Display
from curriculum.run.setup import task_infos
from curriculum.run.stream import Stream, eval_sets
from curriculum.seeding import derive_seed
from curriculum.signals.measurements import Measurements
from curriculum.signals.ordering import best_order, predicted_rows, transfer_matrix
from schedulers.build import build_scheduler
from schedulers.spec import ConstantSchedule, ScheduleSpec
from tasks.build import DataTask
from trainer.config import eval_max_new_tokens
from trainer.distributed import Replicas
from trainer.evaluate import run_eval
from trainer.model import Formatter, count_parameters
from trainer.runtime import Runtime
from trainer.step import make_optimizer, train_step


def probe_spec(schedule: ScheduleSpec) -> ScheduleSpec:
    """The mix policy of a probe burst: the schedule's own (without its order), or constant `probe_mu`."""
    mu = schedule.order.probe_mu
    if mu is None:
        return schedule.model_copy(update={"order": None})
    return ConstantSchedule(kind="constant", mu=mu, sft_batch=schedule.sft_batch, rl_batch=schedule.rl_batch)


def probe_transfer(
    model: torch.nn.Module,
    fmt: Formatter,
    tasks: list[DataTask],
    catalog: Catalog,
    runtime: Runtime,
    display: Display,
    replicas: Replicas | None = None,
) -> dict:
    """Run the probe and choose the order; returns the record written to the run's `order.json`. `replicas`:
    how the ranks' gradients meet under torchrun (`trainer.distributed`)."""
    started = time.time()
    order_spec = catalog.schedule.order
    inner_spec = probe_spec(catalog.schedule)
    steps = order_spec.probe_steps
    start = {k: v.detach().clone() for k, v in model.state_dict().items()}
    rng_state = torch.get_rng_state()
    sets = eval_sets(tasks, fmt)
    # bursts: constant learning rate, no warmup; evaluations: greedy scores only (one sample, no KL)
    training = catalog.training.model_copy(update={"steps": steps, "warmup_steps": 0, "lr_decay": "constant"})
    evaluation = catalog.evaluation.model_copy(update={"kl_samples": 0, "samples": 1})
    eval_tokens = eval_max_new_tokens(catalog.training, catalog.evaluation)

    ledger = Ledger(count_parameters(model))  # the probe's own compute, added to the run's

    def scores(seed: int) -> dict[str, float]:
        record = run_eval(
            model, fmt, sets, evaluation, max_new_tokens=eval_tokens, runtime=runtime, seed=seed, step=steps
        )
        ledger.add_eval(record)
        return {task: m.score for task, m in record.tasks.items()}

    with display.status("probe: evaluating the starting model"):
        base = scores(derive_seed(catalog.seed, "probe", "base"))
    after: dict[str, dict[str, float]] = {}
    for k, (task, info) in enumerate(zip(tasks, task_infos(tasks))):
        with display.status(f"probe {k + 1}/{len(tasks)}: {steps} steps on {task.id}, then evaluating every task"):
            model.load_state_dict(start)
            seed = derive_seed(catalog.seed, "probe", task.id)
            scheduler = build_scheduler(inner_spec, [info], steps)  # inner_spec has no order
            stream, measurements = Stream([task], fmt, seed), Measurements()
            state = {"model": model, "optimizer": make_optimizer(model, training), "step": 0, "replicas": replicas}
            while state["step"] < steps:
                batch = stream.batch(scheduler.decide(state["step"], measurements))
                record = train_step(state, batch, fmt, training, runtime, seed)
                measurements.add_step(record)
                ledger.add_step(record)
            after[task.id] = scores(seed)
        gains = "  ".join(f"{t} {after[task.id][t] - base[t]:+.2f}" for t in base)
        display.line(f"probe {task.id}: {gains}")
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
        "compute": ledger.totals(),
        "seconds": round(time.time() - started, 1),
    }
