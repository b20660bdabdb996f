"""Read a run folder as plain data: its catalog, run.json, tables (rows in step order) and order.json.

Rows are read by the column names of `curriculum.records`; a number that is null or NaN reads as None.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from curriculum.catalog.yamlio import read_yaml_file
from curriculum.errors import UserError
from curriculum.records import STAGE, STEP, eval_tasks
from curriculum.run.rundir import RunDir
from curriculum.signals.stages import stages


class ReportError(UserError):
    """A folder that is not a readable run; the message says which file is missing or bad."""


def num(value: Any) -> float | None:
    """A logged number as float; None for null, NaN or a non-number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return None if math.isnan(value) else float(value)


def mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _table(root: Path, name: str) -> list[dict[str, Any]]:
    """Rows of `<name>.parquet` in step order ([] when absent); a step logged twice keeps its last row."""
    path = root / f"{name}.parquet"
    if not path.is_file():
        return []
    try:
        rows = pl.read_parquet(path).to_dicts()
    except Exception as exc:  # polars raises several types for a damaged file
        raise ReportError(f"{path}: cannot read: {exc}") from None
    if rows and STEP not in rows[0]:
        raise ReportError(f"{path}: no step column")
    return sorted({int(r[STEP]): r for r in rows}.values(), key=lambda r: int(r[STEP]))


def load_run(path: str | Path) -> dict[str, Any]:
    """The run folder's files as plain data: root, catalog, info, decisions, plan (the planned decisions), steps,
    evals, order."""
    root = Path(path)
    if not root.is_dir():
        raise ReportError(f"{root}: no such folder")
    missing = [name for name in ("catalog.yaml", "evals.parquet") if not (root / name).is_file()]
    if missing:
        raise ReportError(f"{root} is not a run folder: no {' and no '.join(missing)} (see `curriculum train --out`)")
    try:
        catalog = read_yaml_file(root / "catalog.yaml")
        info = RunDir(root).read_info()
        order = json.loads((root / "order.json").read_text()) if (root / "order.json").is_file() else None
    except (yaml.YAMLError, json.JSONDecodeError, OSError) as exc:
        raise ReportError(f"{root}: {exc}") from None
    if not isinstance(catalog, dict):
        raise ReportError(f"{root / 'catalog.yaml'}: not a catalog (a YAML mapping)")
    evals = _table(root, "evals")
    if not evals:
        raise ReportError(f"{root / 'evals.parquet'}: no evaluation rows")
    return {
        "root": root,
        "catalog": catalog,
        "info": info,
        "decisions": _table(root, "decisions"),
        "plan": _table(root, "plan"),
        "steps": _table(root, "steps"),
        "evals": evals,
        "order": order,
    }


def task_kinds(catalog: dict, evals: list[dict]) -> dict[str, str]:
    """task id -> kind, in catalog order; without catalog tasks, the tasks that have eval scores."""
    tasks = catalog.get("tasks") or []
    if tasks:
        return {str(t["id"]): str(t.get("kind") or "-") for t in tasks}
    return dict.fromkeys((t for row in evals for t in eval_tasks(row)), "-")


def stages_of(rows: list[dict]) -> list[dict[str, Any]]:
    """Runs of consecutive steps with one `stage` value: name, first and last step, end = last + 1."""
    found = stages((int(r[STEP]), r[STAGE]) for r in rows if r.get(STAGE) is not None)
    return [{"name": s.name, "first": s.first, "last": s.last, "end": s.end} for s in found]


def series(rows: list[dict], key: str) -> list[tuple[int, float]]:
    """(step, value) of every row that logged `key` (null and NaN left out)."""
    return [(int(r[STEP]), v) for r in rows if (v := num(r.get(key))) is not None]
