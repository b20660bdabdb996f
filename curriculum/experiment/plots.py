"""The data behind `curriculum plot EXPERIMENT`: each arm's mean held-out score over steps (the mean over tasks
of each seed's greedy eval score, then the mean over seeds with its 95% t interval) and each arm's final
overall score with its interval, from the experiment folder (`experiment.json`, `results.parquet` and the run
folders). `curriculum.views.plots` draws them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from curriculum.errors import UserError
from curriculum.experiment.stats import mean_interval
from curriculum.records import eval_column
from curriculum.report import load_run


def is_experiment(folder: Path) -> bool:
    return (folder / "experiment.json").is_file() and (folder / "results.parquet").is_file()


def _interval(values: list[float]) -> dict[str, Any]:
    it = mean_interval(values)
    return {"mean": it.mean, "lo": it.lo, "hi": it.hi, "n": it.n}


def experiment_plot_data(folder: Path) -> dict[str, Any]:
    """{"name", "baseline", "arms": [{"arm", "curve": [(step, mean, lo, hi)], "final": interval, "seeds"}]}."""
    if not is_experiment(folder):
        raise UserError(f"{folder} is not an experiment folder: no experiment.json and results.parquet")
    spec = json.loads((folder / "experiment.json").read_text(encoding="utf-8"))
    results = pl.read_parquet(folder / "results.parquet")
    arms = []
    for arm in spec["arms"]:
        rows = results.filter(pl.col("arm") == arm)
        if rows.is_empty():
            continue
        per_seed: dict[int, dict[int, float]] = {}  # seed -> step -> mean score over tasks
        for seed in sorted(set(rows["seed"].to_list())):
            run = load_run(folder / arm / f"seed-{seed}")
            tasks = sorted(set(rows.filter(pl.col("seed") == seed)["task"].to_list()))
            for row in run["evals"]:
                scores = [row.get(eval_column(t, "score")) for t in tasks]
                if all(s is not None for s in scores):
                    per_seed.setdefault(seed, {})[int(row["step"])] = sum(scores) / len(scores)
        steps = sorted(set.intersection(*(set(s) for s in per_seed.values()))) if per_seed else []
        curve = []
        for step in steps:
            it = _interval([per_seed[seed][step] for seed in per_seed])
            curve.append((step, it["mean"], it["lo"], it["hi"]))
        finals = rows.group_by("seed").agg(pl.col("final").mean()).sort("seed")["final"].to_list()
        arms.append({"arm": arm, "curve": curve, "final": _interval(finals), "seeds": len(finals)})
    return {"name": folder.name, "folder": str(folder), "baseline": spec.get("baseline"), "arms": arms}
