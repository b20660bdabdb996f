"""Signals: pure functions over a run's tables that give schedulers their `Measurements`.

`measurements` folds the step and eval rows into histories; `add_step_row` / `add_eval_row` are the
fold's two steps, used by the run writer to keep the measurements current as records arrive (the
same result as folding the whole table again, without the quadratic cost).
"""

from __future__ import annotations

import math
from typing import Any

from schedulers.base import Measurements


def _present(value: Any) -> bool:
    """A logged number: not None (the part did not run) and not NaN."""
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def add_eval_row(m: Measurements, row: dict[str, Any]) -> None:
    """eval/<task>/score and eval/<task>/entropy -> m.scores / m.entropy histories."""
    for key, value in row.items():
        parts = key.split("/")
        if len(parts) == 3 and parts[0] == "eval" and _present(value):
            history = {"score": m.scores, "entropy": m.entropy}.get(parts[2])
            if history is not None:
                history.setdefault(parts[1], []).append((row["step"], float(value)))


def add_step_row(m: Measurements, row: dict[str, Any]) -> None:
    """One step record -> the measurements now stand after this step.

    rl/<task>/reward -> m.rewards[task]; rl/<task>/abs_adv with rl/<task>/rollouts (> 0) -> m.adv[task]
    as (step, mean |advantage|, rollouts); train/sft_loss -> m.sft_loss. Missing, None or NaN values
    add nothing (a step without SFT rows logs no SFT loss; a task without rollouts that step, no advantage).
    """
    step = row["step"]
    for key, value in row.items():
        parts = key.split("/")
        if len(parts) != 3 or parts[0] != "rl" or not _present(value):
            continue
        task, name = parts[1], parts[2]
        if name == "reward":
            m.rewards.setdefault(task, []).append((step, float(value)))
        elif name == "abs_adv":
            rollouts = row.get(f"rl/{task}/rollouts")
            if _present(rollouts) and int(rollouts) > 0:
                m.adv.setdefault(task, []).append((step, float(value), int(rollouts)))
    if _present(row.get("train/sft_loss")):
        m.sft_loss.append((step, float(row["train/sft_loss"])))
    m.step = step + 1


def measurements(step_rows: list[dict[str, Any]], eval_rows: list[dict[str, Any]]) -> Measurements:
    """What a scheduler sees after these records (rows in step order)."""
    m = Measurements()
    for row in eval_rows:
        add_eval_row(m, row)
    for row in step_rows:
        add_step_row(m, row)
    return m
