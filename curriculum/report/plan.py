"""A schedule before training, as data: its stages, mu over steps, and each task's SFT and RL totals.

`curriculum plan` builds the decisions the way the run will (`curriculum.run.setup.plan_decisions`) and
renders this (`curriculum.views.plan`). An adaptive schedule's plan is its decisions with no
measurements: nominal, not what the run will do.
"""

from __future__ import annotations

from typing import Any

from curriculum.catalog import Catalog
from curriculum.records import Decision
from curriculum.signals.stages import stages
from tasks.build import DataTask

REPEATED_EPOCHS = 3  # demonstrations trained on more often than this: expect SFT overfitting


def plan_summary(
    catalog: Catalog, tasks: list[DataTask], decisions: list[Decision], adaptive: bool, cost: dict | None = None
) -> dict[str, Any]:
    """The plan as data; `cost` is `curriculum.run.setup.plan_cost_of` (estimated tokens and FLOPs), if known."""
    G = catalog.training.rollout.group_size
    order = catalog.schedule.order
    probe_steps = order.probe_steps if order is not None and order.kind == "bwt_order" else 0
    out: dict[str, Any] = {
        "name": catalog.name,
        "schedule": catalog.schedule.kind,
        "steps": len(decisions),
        "seed": catalog.seed,
        "group_size": G,
        "adaptive": adaptive,
        "order": None if order is None else order.kind,
        "probe_steps": probe_steps,
        "probe_compute_steps": probe_steps * len(tasks),
        "mu": [d.mu for d in decisions],
    }
    out["stages"] = []
    for stage in stages((d.step, d.stage) for d in decisions):
        group = decisions[stage.first : stage.last + 1]
        sft = sum(d.sft_total for d in group) / len(group)
        rl = sum(d.rl_total for d in group) / len(group)
        out["stages"].append(
            {
                "name": stage.name,
                "first": stage.first,
                "last": stage.last,
                "mu": (group[0].mu, group[-1].mu),
                "sft_per_step": sft,
                "rl_per_step": rl,
                "rollouts_per_step": rl * G,
                "sft_weighting": sorted({d.sft_weighting for d in group if d.sft_total}),
            }
        )
    rows = []
    for task in tasks:
        sft = sum(d.sft.get(task.id, 0) for d in decisions)
        rl = sum(d.rl.get(task.id, 0) for d in decisions)
        rows.append(
            {
                "task": task.id,
                "kind": task.kind,
                "weight": task.weight,
                "sft_pool": len(task.sft),
                "sft_rows": sft,
                "epochs": sft / len(task.sft) if task.sft else 0.0,
                "rl_pool": len(task.rl),
                "rl_prompts": rl,
                "rollouts": rl * G,
                "eval": len(task.eval),
            }
        )
    out["tasks"] = rows
    out["totals"] = {
        "sft_rows": sum(r["sft_rows"] for r in rows),
        "rl_prompts": sum(r["rl_prompts"] for r in rows),
        "rollouts": sum(r["rollouts"] for r in rows),
    }
    out["cost"] = cost
    out["repeated"] = [(r["task"], r["epochs"]) for r in rows if r["epochs"] > REPEATED_EPOCHS]
    return out
