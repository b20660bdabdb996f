"""A schedule before training, as data: its stages (with each task's share of their rows), mu over steps,
each task's SFT and RL totals and prerequisites, and what it costs.

`curriculum plan` asks the scheduler for its plan as segments (`curriculum.run.setup.plan_segments`,
`schedulers.plan`) and renders this (`curriculum.views.plan`). The plan is `planned` for a schedule that
reads no measurements, `nominal` for an adaptive one (its decisions with no measurements: not what the run
will do), `simulated` under `curriculum.report.simulate`'s surrogate learning curves. Per-task totals are
the exact shares of the rows (`schedulers.plan`): the run's whole rows are within one row per task.
"""

from __future__ import annotations

from itertools import groupby
from typing import Any

from curriculum.catalog import Catalog
from schedulers.plan import Segment, mu_per_step, totals
from tasks.build import DataTask

REPEATED_EPOCHS = 3  # demonstrations trained on more often than this: expect SFT overfitting


def plan_summary(
    catalog: Catalog,
    tasks: list[DataTask],
    segments: list[Segment],
    adaptive: bool,
    cost: dict | None = None,
    mode: str | None = None,
) -> dict[str, Any]:
    """The plan as data; `cost` is `curriculum.run.setup.plan_cost_of` (estimated tokens and FLOPs), if known;
    `mode` planned / nominal (the default by `adaptive`) or simulated."""
    G = catalog.training.rollout.group_size
    order = catalog.schedule.order
    probe_steps = order.probe_steps if order is not None and order.kind == "bwt_order" else 0
    out: dict[str, Any] = {
        "name": catalog.name,
        "schedule": catalog.schedule.kind,
        "mode": mode or ("nominal" if adaptive else "planned"),
        "steps": sum(s.steps for s in segments),
        "seed": catalog.seed,
        "group_size": G,
        "adaptive": adaptive,
        "order": None if order is None else order.kind,
        "probe_steps": probe_steps,
        "probe_compute_steps": probe_steps * len(tasks),
        "mu": mu_per_step(segments),
        "stages": [_stage(name, list(group), G) for name, group in groupby(segments, key=lambda s: s.stage)],
    }
    sums = totals(segments)
    rows = []
    for task in tasks:
        sft, rl = sums.get(task.id, (0.0, 0.0))
        rows.append(
            {
                "task": task.id,
                "kind": task.kind,
                "weight": task.weight,
                "requires": list(task.requires),
                "sft_pool": len(task.sft),
                "sft_rows": _count(sft),
                "epochs": sft / len(task.sft) if task.sft else 0.0,
                "rl_pool": len(task.rl),
                "rl_prompts": _count(rl),
                "rollouts": _count(rl * G),
                "eval": len(task.eval),
            }
        )
    out["tasks"] = rows
    out["totals"] = {key: _count(sum(r[key] for r in rows)) for key in ("sft_rows", "rl_prompts", "rollouts")}
    out["cost"] = cost
    out["repeated"] = [(r["task"], r["epochs"]) for r in rows if r["epochs"] > REPEATED_EPOCHS]
    return out


def _count(x: float) -> float:
    """A planned count: the exact share, without float dust (10.000000000000002 -> 10.0)."""
    return round(x, 6)


def _stage(name: str, group: list[Segment], G: int) -> dict[str, Any]:
    """One stage (a run of segments with its name): rows per step, mu at its ends, and each task's share of
    its demonstrations and prompts."""
    steps = sum(s.steps for s in group)
    sft = sum(s.steps * s.sft for s in group)
    rl = sum(s.steps * s.rl for s in group)
    sums = totals(group)
    return {
        "name": name,
        "first": group[0].first,
        "last": group[-1].last,
        "mu": (group[0].mu[0], group[-1].mu[-1]),
        "sft_per_step": sft / steps,
        "rl_per_step": rl / steps,
        "rollouts_per_step": rl * G / steps,
        "sft_weighting": sorted({s.sft_weighting for s in group if s.sft}),
        "shares": {
            task: {"sft": t_sft / sft if sft else 0.0, "rl": t_rl / rl if rl else 0.0}
            for task, (t_sft, t_rl) in sums.items()
        },
    }


def plan_diff(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """Two plans' figures side by side: rows of {"figure", "a", "b", "differs"}: the schedule, its stages, rows,
    rollouts, tokens and FLOPs, then each task's demonstrations and prompts (a task of one plan only has None
    in the other)."""

    def stages(plan: dict) -> str:
        return ", ".join(f"{s['name']} {s['first']}-{s['last']}" for s in plan["stages"])

    def cost(plan: dict, key: str) -> float | None:
        return plan["cost"]["expected"][key] if plan.get("cost") else None

    rows: list[tuple[str, Any, Any]] = [
        ("catalog", a["name"], b["name"]),
        ("schedule", f"{a['schedule']} ({a['mode']})", f"{b['schedule']} ({b['mode']})"),
        ("order", a["order"] or "-", b["order"] or "-"),
        ("steps", a["steps"], b["steps"]),
        ("stages", stages(a), stages(b)),
        ("mean mu", _mean(a["mu"]), _mean(b["mu"])),
        ("G (rollouts per prompt)", a["group_size"], b["group_size"]),
        ("SFT rows", a["totals"]["sft_rows"], b["totals"]["sft_rows"]),
        ("RL prompts", a["totals"]["rl_prompts"], b["totals"]["rl_prompts"]),
        ("rollouts", a["totals"]["rollouts"], b["totals"]["rollouts"]),
    ]
    for key, name in (("sft_tokens", "SFT tokens"), ("rl_tokens", "RL tokens"), ("generated_tokens", "generated")):
        rows.append((f"{name} (expected)", cost(a, key), cost(b, key)))
    rows.append(("training FLOPs (expected)", cost(a, "training_flops"), cost(b, "training_flops")))
    tasks_a, tasks_b = {t["task"]: t for t in a["tasks"]}, {t["task"]: t for t in b["tasks"]}
    for task in [*tasks_a, *(t for t in tasks_b if t not in tasks_a)]:
        ta, tb = tasks_a.get(task), tasks_b.get(task)
        for key, name in (("sft_rows", "SFT rows"), ("rl_prompts", "RL prompts")):
            rows.append((f"{task}: {name}", ta[key] if ta else None, tb[key] if tb else None))
    return [{"figure": f, "a": x, "b": y, "differs": not _same(x, y)} for f, x, y in rows]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _same(x: Any, y: Any) -> bool:
    if isinstance(x, float | int) and isinstance(y, float | int):
        return abs(x - y) <= 1e-9 * max(1.0, abs(x), abs(y))
    return x == y
