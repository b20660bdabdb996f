"""Resume: which catalog a stopped run continues with, and what a resume may not change.

Only `training.steps` (to extend; not for task stages, whose lengths split it) and the checkpoint cadence
may change on a resume; a changed catalog (a task added, removed or reweighted, a schedule or data
change) is refused with the list of changes, never half-applied. The rest of a resume (weights,
optimizer, scheduler, stream, records, RNG) comes from the checkpoint: `curriculum.run.writer`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from curriculum.catalog import Catalog, load_catalog
from curriculum.catalog.yamlio import read_yaml_file
from curriculum.run.rundir import RunDir
from curriculum.run.setup import RunError


def catalog_for_resume(root: Path, catalog_path: str | Path | None, overrides: list[str]) -> tuple[Catalog, dict, Path]:
    """(catalog, resolved catalog, base folder of its relative paths) to resume the run in `root` with:
    the run's saved catalog (or `catalog_path`, which must match it) with `overrides`. Raises RunError
    when `root` is not a run or the catalog changed, CatalogInvalid when it does not validate."""
    saved_file = root / "catalog.yaml"
    if not saved_file.is_file():
        raise RunError(f"{root} is not a run folder (no catalog.yaml)")
    base = Path(RunDir(root).read_info().get("base_dir", root))
    saved = read_yaml_file(saved_file)
    catalog = load_catalog(catalog_path, overrides) if catalog_path else load_catalog(saved_file, overrides, base)
    resolved = catalog.model_dump(mode="json")
    changes = resume_changes(saved, resolved)
    if changes:
        raise RunError(
            f"cannot resume {root}: the catalog differs from the one the run started with",
            *changes,
            "only training.steps and the checkpoint cadence may change on a resume; "
            "start a new run (--out) for a changed catalog",
        )
    return catalog, resolved, base


def _with_defaults(saved: dict) -> dict:
    """The saved catalog as the current schema reads it: a setting added to the engine after the run started
    takes its default on both sides, so it is not a change (a catalog the schema refuses stays as saved)."""
    try:
        return Catalog.model_validate(saved).model_dump(mode="json")
    except ValidationError:
        return saved


def check_data(info: dict, fingerprint: dict[str, str]) -> None:
    """Refuse a resume whose task rows differ from those the run started with (run.json's `data`)."""
    if info.get("data") != fingerprint:
        changed = sorted(t for t in fingerprint if info.get("data", {}).get(t) != fingerprint[t])
        raise RunError(
            f"the data of task(s) {', '.join(changed)} differs from what the run started with "
            "(a data file edited or moved?); resuming would train on other rows: refused"
        )


# Keys a resume may change: they alter neither the data nor any decision already taken.
RESUMABLE_CHANGES = ("training.steps", "training.checkpoint_every", "training.keep_checkpoints")


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: data}


def resume_changes(saved: dict, new: dict) -> list[str]:
    """What differs between the catalog a run started with and the one it would resume with, said for a
    person: tasks added, removed or changed by id; any other key by its path. Empty = the same run."""
    saved = _with_defaults(saved)
    problems = []
    old_tasks = {t["id"]: t for t in saved.get("tasks", [])}
    new_tasks = {t["id"]: t for t in new.get("tasks", [])}
    for tid in new_tasks.keys() - old_tasks.keys():
        problems.append(f"task {tid} added")
    for tid in old_tasks.keys() - new_tasks.keys():
        problems.append(f"task {tid} removed")
    for tid in old_tasks.keys() & new_tasks.keys():
        a, b = _flatten(old_tasks[tid]), _flatten(new_tasks[tid])
        for key in sorted(a.keys() | b.keys()):
            if a.get(key) != b.get(key):
                what = "reweighted" if key == "weight" else f"{key} changed"
                problems.append(f"task {tid} {what}: {a.get(key)!r} -> {b.get(key)!r}")
    if list(old_tasks) != list(new_tasks) and old_tasks.keys() == new_tasks.keys():
        problems.append(f"task order changed: {list(old_tasks)} -> {list(new_tasks)}")
    # the experiment section is what `curriculum experiment` reads, not what a run trains on
    a = _flatten({k: v for k, v in saved.items() if k not in ("tasks", "experiment")})
    b = _flatten({k: v for k, v in new.items() if k not in ("tasks", "experiment")})
    staged = (saved.get("schedule") or {}).get("order") is not None
    for key in sorted(a.keys() | b.keys()):
        if a.get(key) != b.get(key) and (key not in RESUMABLE_CHANGES or (staged and key == "training.steps")):
            why = " (task stages split training.steps: their lengths would change)" if key == "training.steps" else ""
            problems.append(f"{key} changed: {a.get(key)!r} -> {b.get(key)!r}{why}")
    return sorted(problems)
