"""The data behind `curriculum plot`: a run folder's curves, stages, phases, mu and mix, as plain lists
(`curriculum.views.plots` draws them; nothing here imports matplotlib)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from curriculum.records import eval_column
from curriculum.report import run_report
from curriculum.report.load import series


def _mix(rows: list[dict], tasks: list[str]) -> dict[str, dict[str, int]]:
    """Per task, the SFT rows and RL prompts summed over the decisions."""
    return {
        t: {
            "sft": int(sum(r.get(f"sft/{t}/rows") or 0 for r in rows)),
            "rl": int(sum(r.get(f"rl/{t}/prompts") or 0 for r in rows)),
        }
        for t in tasks
    }


def plot_data(run: dict) -> dict[str, Any]:
    """Everything the run's pictures show, from `curriculum.report.load_run(...)`."""
    report = run_report(run)
    tasks = [t["id"] for t in report["tasks"]]
    plan_file = Path(run["root"]) / "plan.parquet"
    planned = pl.read_parquet(plan_file).to_dicts() if plan_file.is_file() else []
    executed = run["decisions"] or []
    done = {int(r["step"]) for r in executed}
    planned_so_far = [r for r in planned if int(r["step"]) in done]  # a stopped run: the plan up to its last step
    curves = {}
    for phase in report["phases"]["tasks"]:
        t = phase["task"]
        curves[t] = {
            "kind": phase["kind"],
            "score": series(run["evals"], eval_column(t, "score")),
            "sampled": series(run["evals"], eval_column(t, "sampled")),
            "entropy": series(run["evals"], eval_column(t, "entropy")),
            "kl_base": series(run["evals"], eval_column(t, "kl_base")),
            "phases": list(zip(phase["steps"], phase["labels"])),
        }
    return {
        "name": report["name"],
        "run": report["run"],
        "schedule": report["schedule"],
        "tasks": report["tasks"],
        "stages": report["stages"],
        "curves": curves,
        "mu": {
            "planned": [(int(r["step"]), float(r["mu"])) for r in planned],
            "executed": [(int(r["step"]), float(r["mu"])) for r in executed],
        },
        "mix": {"planned": _mix(planned_so_far, tasks), "actual": _mix(executed, tasks)},
        "accuracy": report["accuracy"],
    }
