"""The run directory: everything a run leaves behind, and the writer the training loop logs to.

    <run>/
      catalog.yaml       the resolved catalog (file + overrides + defaults): rerun with it
      run.json           engine and library versions, device, dtype, status, timings
      plan.parquet       the planned decisions (the schedule with no measurements), one row per step
      decisions.parquet  the executed decisions, one row per step
      steps.parquet      step metrics, one row per step
      evals.parquet      held-out evaluation, one row per evaluation (step 0 = the starting model)
      order.json         bwt_order only: the probe's transfer matrix, the chosen order, predicted scores
      checkpoints/step-NNNNNN/   model + tokenizer (safetensors), optimizer, scheduler and stream state

Tables are written with polars, each atomically (temp file + rename), right after every checkpoint and
at the end, so they agree with the last checkpoint, except after a kill while they are being written
(then some may be one checkpoint behind); every checkpoint also holds the records, and a resume
rewrites the tables from it. Column names are namespaced and stable (README).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from schedulers.base import Decision

TABLES = ("plan", "decisions", "steps", "evals")


def decision_row(d: Decision, task_ids: list[str]) -> dict[str, Any]:
    """A decision as a flat row: step, stage, mu, sft_weighting, why, sft/<task>, rl/<task>, mu/<task>
    (each task's SFT weight), gate_below, drop_zero_variance."""
    row: dict[str, Any] = {"step": d.step, "stage": d.stage, "mu": d.mu, "sft_weighting": d.sft_weighting, "why": d.why}
    row.update({f"sft/{t}": d.sft.get(t, 0) for t in task_ids})
    row.update({f"rl/{t}": d.rl.get(t, 0) for t in task_ids})
    row.update({f"mu/{t}": d.mu_for(t) for t in task_ids})
    row["gate_below"] = d.gate_below
    row["drop_zero_variance"] = d.drop_zero_variance
    return row


def eval_row(step: int, results: dict[str, dict[str, float]]) -> dict[str, Any]:
    """One evaluation as a flat row: step, eval/<task>/<metric>."""
    row: dict[str, Any] = {"step": step}
    for task, metrics in results.items():
        row.update({f"eval/{task}/{name}": value for name, value in metrics.items()})
    return row


def write_table(path: Path, rows: list[dict[str, Any]]) -> None:
    """Rows -> Parquet atomically. Columns in order of first appearance; a missing value is null."""
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    frame = pl.from_dicts(rows, infer_schema_length=None) if rows else pl.DataFrame()
    if rows:
        frame = frame.select(list(columns))
    tmp = path.with_name(f".{path.name}.tmp")
    frame.write_parquet(tmp)
    os.replace(tmp, path)


def read_table(path: Path) -> pl.DataFrame:
    return pl.read_parquet(path) if path.exists() else pl.DataFrame()


class RunDir:
    """Paths of a run folder."""

    def __init__(self, root: Path):
        self.root = Path(root)

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    def table(self, name: str) -> Path:
        return self.root / f"{name}.parquet"

    @property
    def catalog(self) -> Path:
        return self.root / "catalog.yaml"

    @property
    def info(self) -> Path:
        return self.root / "run.json"

    def write_catalog(self, data: dict) -> None:
        tmp = self.catalog.with_name(".catalog.yaml.tmp")
        tmp.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        os.replace(tmp, self.catalog)

    def write_info(self, info: dict) -> None:
        tmp = self.info.with_name(".run.json.tmp")
        tmp.write_text(json.dumps(info, indent=2, default=str), encoding="utf-8")
        os.replace(tmp, self.info)

    def write_json(self, name: str, data: dict) -> None:
        tmp = self.root / f".{name}.tmp"
        tmp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
        os.replace(tmp, self.root / name)

    def read_info(self) -> dict:
        return json.loads(self.info.read_text()) if self.info.exists() else {}
