"""What a run measured, and what a plan will do, as plain data: the report and plan views render it.

`build_report(paths)` reads each run folder (README, "The run directory") and returns
`{"runs": [one dict per run], "overlap": [...]}` of lists, dicts, strings and floats (None = not
measured), so `curriculum inspect --json` prints it as is and tests check it directly. Modules: `load`
(a run folder as rows), `sections` (per task, accuracy, entropy, KL, phases, order, mix), `sparsity` (loads
models), `summary` (first against last evaluation), `plan` (a schedule before training).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from curriculum.report.load import ReportError, load_run, stages_of, task_kinds
from curriculum.report.sections import (
    WINDOW,
    accuracy_section,
    entropy_section,
    kl_section,
    mix_section,
    order_section,
    per_task_section,
    phases_section,
)

__all__ = ["ReportError", "WINDOW", "build_report", "load_run", "run_report"]


def run_report(run: dict, window: int = WINDOW) -> dict[str, Any]:
    """Every section of one run but sparsity (which loads models)."""
    catalog, evals = run["catalog"], run["evals"]
    kinds = task_kinds(catalog, evals)
    stages = stages_of(run["decisions"] or run["steps"])
    accuracy = accuracy_section(list(kinds), stages, evals)
    return {
        "run": str(run["root"]),
        "name": catalog.get("name"),
        "status": run["info"].get("status"),
        "seconds": run["info"].get("seconds"),
        "ranks": run["info"].get("ranks"),  # trained under torchrun: {"world", "parallel"}
        "schedule": (catalog.get("schedule") or {}).get("kind"),
        "model": catalog.get("model"),
        "seed": catalog.get("seed"),
        "tasks": [{"id": t, "kind": k} for t, k in kinds.items()],
        "stages": stages,
        "per_task": per_task_section(kinds, evals),
        "accuracy": accuracy,
        "entropy": entropy_section(kinds, evals, window),
        "kl": kl_section(kinds, evals),
        "phases": phases_section(kinds, evals, run["steps"]),
        "order": order_section(run["order"], list(kinds), evals, accuracy),
        "mix": mix_section(list(kinds), run.get("plan") or [], run["decisions"]),
    }


def build_report(paths: list[str | Path], *, sparsity: bool = True, window: int = WINDOW) -> dict[str, Any]:
    """The whole report of one or more run folders: {"runs": [...], "overlap": [...]}."""
    runs = [load_run(p) for p in paths]  # every folder checked before any model is loaded
    reports = [run_report(run, window) for run in runs]
    if not sparsity:
        for report in reports:
            report["sparsity"] = {"note": "skipped (--no-sparsity)"}
        return _plain({"runs": reports, "overlap": []})
    from curriculum.report.sparsity import overlap_section, sparsity_section  # loads torch and transformers

    keys, masks, bases = [], [], {}
    for run, report in zip(runs, reports):
        report["sparsity"], mask, key = sparsity_section(run, bases)
        keys.append(key)
        masks.append(mask)
    return _plain({"runs": reports, "overlap": overlap_section([r["run"] for r in reports], keys, masks)})


def _plain(value: Any) -> Any:
    """NaN and infinities -> None, tuples -> lists: the report is strict JSON."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
