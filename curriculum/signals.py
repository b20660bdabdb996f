"""Signals: pure functions over a run's tables that give schedulers their `Measurements`.

`measurements` folds the step and eval rows into histories; `add_step_row` / `add_eval_row` are the
fold's two steps, used by the run writer to keep the measurements current as records arrive (the
same result as folding the whole table again, without the quadratic cost).
"""

from __future__ import annotations

from typing import Any

from schedulers.base import Measurements


def add_eval_row(m: Measurements, row: dict[str, Any]) -> None:
    """eval/<task>/score and eval/<task>/entropy -> m.scores / m.entropy histories."""
    for key, value in row.items():
        parts = key.split("/")
        if len(parts) == 3 and parts[0] == "eval" and value is not None:
            history = {"score": m.scores, "entropy": m.entropy}.get(parts[2])
            if history is not None:
                history.setdefault(parts[1], []).append((row["step"], float(value)))


def add_step_row(m: Measurements, row: dict[str, Any]) -> None:
    """rl/<task>/reward -> m.rewards history; the measurements now stand after this step."""
    for key, value in row.items():
        parts = key.split("/")
        if len(parts) == 3 and parts[0] == "rl" and parts[2] == "reward" and value is not None:
            m.rewards.setdefault(parts[1], []).append((row["step"], float(value)))
    m.step = row["step"] + 1


def measurements(step_rows: list[dict[str, Any]], eval_rows: list[dict[str, Any]]) -> Measurements:
    """What a scheduler sees after these records (rows in step order)."""
    m = Measurements()
    for row in eval_rows:
        add_eval_row(m, row)
    for row in step_rows:
        add_step_row(m, row)
    return m
