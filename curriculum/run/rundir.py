"""The run directory: the paths of everything a run leaves behind, and atomic writes of its files.

    <run>/
      catalog.yaml       the resolved catalog (file + overrides + defaults): rerun with it
      run.json           engine and library versions, device, dtype, status, timings
      plan.parquet       the planned decisions (the schedule with no measurements), one row per step
      decisions.parquet  the executed decisions, one row per step
      steps.parquet      step metrics, one row per step
      evals.parquet      held-out evaluation, one row per evaluation (step 0 = the starting model)
      order.json         bwt_order only: the probe's transfer matrix, the chosen order, predicted scores
      checkpoints/step-NNNNNN/   model + tokenizer (safetensors), optimizer, scheduler, stream, records

Tables are written with polars, each atomically (temp file + rename), right after every checkpoint and
at the end, so they agree with the last checkpoint, except after a kill while they are being written
(then some may be one checkpoint behind); every checkpoint also holds the records, and a resume
rewrites the tables from it (`curriculum.run.writer`). Column names are namespaced and stable, spelled in
`curriculum.records` (README).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import polars as pl
import yaml


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


class RunDir:
    """Paths of a run folder. `writes=False` (a torchrun rank other than 0): the same paths, and nothing written."""

    def __init__(self, root: Path, writes: bool = True):
        self.root, self.writes = Path(root), writes

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
        if not self.writes:
            return
        tmp = self.catalog.with_name(".catalog.yaml.tmp")
        tmp.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        os.replace(tmp, self.catalog)

    def write_info(self, info: dict) -> None:
        if not self.writes:
            return
        tmp = self.info.with_name(".run.json.tmp")
        tmp.write_text(json.dumps(info, indent=2, default=str), encoding="utf-8")
        os.replace(tmp, self.info)

    def write_json(self, name: str, data: dict) -> None:
        if not self.writes:
            return
        tmp = self.root / f".{name}.tmp"
        tmp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
        os.replace(tmp, self.root / name)

    def read_info(self) -> dict:
        return json.loads(self.info.read_text()) if self.info.exists() else {}
