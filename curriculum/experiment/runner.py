"""Arms x seeds of one catalog, each an ordinary run folder, run (or skipped, or resumed) one after another.

    <out>/experiment.json          what was asked: arms and their overrides, seeds, matching, budget
    <out>/<arm>/seed-<seed>/       a run folder (`curriculum report`, `curriculum train --resume` work on it)
    <out>/results.parquet          one row per arm x seed x task (`curriculum.experiment.results`)

**Matching.** `steps`: every arm trains the catalog's `training.steps`. `compute`: every arm trains until the
same training FLOPs (`curriculum.compute`): the budget C is the baseline arm's *estimated* cost at
`training.steps` (`plan_cost`, responses as long as the demonstrations). Each arm gets
`training.compute_budget = C`, so its run ends at the first step whose *counted* training FLOPs reach C
(at most one step past it). A fixed arm's `training.steps` (what shapes its schedule: stage lengths, the
chord decay, where a sequential switch falls relative to the end) is scaled so its own estimated cost is C
(three rounds of steps <- steps x C / cost(steps)); an adaptive arm keeps `training.steps`, since its plan
is only nominal. A run may end before its steps or go past them (the schedule's last decisions go on).

**Restarting.** An experiment started again with the same arguments skips its finished runs (after checking
that each was made from the same catalog), resumes an interrupted run from its latest checkpoint (exactly,
as `curriculum train --resume`), starts again a run that stopped before its first checkpoint, and tries a
failed run again. A run that raises is reported (its traceback in `<run>/error.txt`) and the others go on.
"""

from __future__ import annotations

import json
import math
import shutil
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from curriculum.catalog import Catalog, CatalogInvalid, load_catalog
from curriculum.catalog.experiment import DEFAULT_ARMS, ExperimentSpec, arm_overrides
from curriculum.errors import UserError
from curriculum.run.display import Display
from curriculum.run.loop import train
from curriculum.run.resume import resume_changes
from curriculum.run.rundir import RunDir
from curriculum.run.setup import load_tasks, make_scheduler, plan_cost_of, plan_decisions
from trainer.checkpoint import checkpoint_dirs

MATCH_ROUNDS = 3  # rounds of steps <- steps x C / cost(steps) for a fixed arm under --match compute


class ExperimentError(UserError):
    """The experiment cannot start as asked; the message is for the user."""


@dataclass(frozen=True)
class PlannedRun:
    arm: str
    seed: int
    root: Path
    overrides: list[str]  # on top of the catalog file: the command line's, the arm's, matching, seed


@dataclass
class Experiment:
    catalog_path: Path
    out: Path
    arms: list[str]
    seeds: list[int]
    baseline: str
    match: str
    budget: float | None
    runs: list[PlannedRun]
    arm_overrides: dict[str, list[str]] = field(default_factory=dict)
    arm_steps: dict[str, int] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """experiment.json."""
        return {
            "catalog": str(self.catalog_path),
            "arms": self.arms,
            "baseline": self.baseline,
            "seeds": self.seeds,
            "match": self.match,
            "compute_budget": self.budget,
            "arm_overrides": self.arm_overrides,
            "arm_steps": self.arm_steps,
            "runs": [{"arm": r.arm, "seed": r.seed, "folder": str(r.root.relative_to(self.out))} for r in self.runs],
        }


def plan_experiment(
    catalog_path: str | Path,
    overrides: list[str],
    out: Path,
    *,
    arms: list[str] | None = None,
    seeds: int | None = None,
    match: str | None = None,
    baseline: str | None = None,
) -> Experiment:
    """Every run of the experiment, its catalog checked (a bad arm is an error before anything trains)."""
    path = Path(catalog_path)
    catalog = load_catalog(path, overrides)
    spec = catalog.experiment or ExperimentSpec()
    chosen = list(arms or spec.arms or DEFAULT_ARMS)
    base = baseline or spec.baseline
    if arms or baseline:  # the command line's names are checked as the section's are
        try:
            ExperimentSpec(**{**spec.model_dump(), "arms": chosen, "baseline": base})
        except ValueError as exc:
            raise ExperimentError(f"{path}: {_first_error(exc)}") from None
    if base not in chosen:
        chosen = [base, *chosen]  # every arm is compared with the baseline: it runs too
    if len(set(chosen)) != len(chosen):
        raise ExperimentError(f"an arm is named twice: {chosen}")
    seed_list = spec.seed_list(catalog.seed, seeds)
    how = match or spec.match
    data = catalog.model_dump(mode="json")

    by_arm = {arm: [*overrides, *arm_overrides(arm, data, spec.define)] for arm in chosen}
    arm_catalogs = {arm: _load_arm(path, arm, ovs) for arm, ovs in by_arm.items()}
    tasks = load_tasks(catalog, path.resolve().parent)  # data problems now, not after hours of training
    budget, steps = None, {arm: c.training.steps for arm, c in arm_catalogs.items()}
    extra: dict[str, list[str]] = {arm: [] for arm in chosen}
    if how == "compute":
        budget = _cost(arm_catalogs[base], tasks, path)
        for arm in chosen:
            if not _adaptive(arm_catalogs[arm], tasks):
                steps[arm] = _matched_steps(path, by_arm[arm], budget, tasks)
            extra[arm] = [f"training.steps={steps[arm]}", f"training.compute_budget={budget!r}"]
    runs = [
        PlannedRun(arm, seed, out / arm / f"seed-{seed}", [*by_arm[arm], *extra[arm], f"seed={seed}"])
        for arm in chosen
        for seed in seed_list
    ]
    for run in runs:
        _load_arm(path, run.arm, run.overrides)
    return Experiment(
        path, out, chosen, seed_list, base, how, budget, runs, {a: by_arm[a][len(overrides) :] for a in chosen}, steps
    )


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return "; ".join(str(e.get("msg", e)).removeprefix("Value error, ") for e in errors())
    return str(exc)


def _load_arm(path: Path, arm: str, overrides: list[str]) -> Catalog:
    try:
        return load_catalog(path, overrides)
    except CatalogInvalid as exc:
        raise ExperimentError(f"arm {arm}: its catalog is invalid", *(str(e) for e in exc.errors)) from None


def _adaptive(catalog: Catalog, tasks: list) -> bool:
    return make_scheduler(catalog, tasks).adaptive


def _cost(catalog: Catalog, tasks: list, path: Path) -> float:
    decisions, _ = plan_decisions(catalog, tasks)
    return float(plan_cost_of(catalog, tasks, decisions, path.resolve().parent)["expected"]["training_flops"])


def _matched_steps(path: Path, overrides: list[str], budget: float, tasks: list) -> int:
    """The steps whose estimated cost is the budget (MATCH_ROUNDS rounds of proportional correction)."""
    catalog = load_catalog(path, overrides)
    steps = catalog.training.steps
    for _ in range(MATCH_ROUNDS):
        cost = _cost(load_catalog(path, [*overrides, f"training.steps={steps}"]), tasks, path)
        if cost <= 0:
            raise ExperimentError(f"{path}: an arm's planned cost is 0 FLOPs: nothing to match")
        steps = max(1, round(steps * budget / cost))
    return steps


# ------------------------------------------------------------------------------------------------ running


@dataclass
class Outcome:
    arm: str
    seed: int
    root: Path
    status: str  # finished | skipped (finished before) | failed
    error: str | None = None
    seconds: float = 0.0


def run_state(root: Path) -> str:
    """new | finished | resumable | restart (a folder that stopped before its first checkpoint)."""
    if not root.exists() or not any(root.iterdir()):
        return "new"
    info = RunDir(root).read_info() if (root / "run.json").is_file() else {}
    if info.get("status") == "finished":
        return "finished"
    return "resumable" if checkpoint_dirs(root / "checkpoints") else "restart"


def _same_catalog(root: Path, resolved: dict) -> list[str]:
    saved = yaml.safe_load((root / "catalog.yaml").read_text(encoding="utf-8"))
    changes = resume_changes(saved, resolved)
    if saved.get("training", {}).get("steps") != resolved["training"]["steps"]:
        changes.append(f"training.steps changed: {saved['training']['steps']} -> {resolved['training']['steps']}")
    return changes


def run_experiment(
    experiment: Experiment,
    display: Callable[[PlannedRun], Display],
    news: Callable[[str], None],
) -> list[Outcome]:
    """Run every planned run in turn; `display(run)` shows a run's training, `news` one line of progress."""
    out = experiment.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "experiment.json").write_text(json.dumps(experiment.describe(), indent=2), encoding="utf-8")
    base_dir = experiment.catalog_path.resolve().parent
    outcomes: list[Outcome] = []
    trained_seconds: list[float] = []
    total = len(experiment.runs)
    for i, planned in enumerate(experiment.runs):
        catalog = load_catalog(experiment.catalog_path, planned.overrides)
        resolved = catalog.model_dump(mode="json")
        state = run_state(planned.root)
        if state in ("finished", "resumable"):
            changes = _same_catalog(planned.root, resolved)
            if changes:
                raise ExperimentError(
                    f"{planned.root} was made from another catalog than this experiment's arm {planned.arm}",
                    *changes,
                    "use another --out for a changed experiment",
                )
        if state == "finished":
            outcomes.append(Outcome(planned.arm, planned.seed, planned.root, "skipped"))
            news(f"[{i + 1}/{total}] {planned.arm} seed {planned.seed}: finished before, skipped")
            continue
        left = sum(1 for r in experiment.runs[i:] if run_state(r.root) != "finished")
        eta = f", about {_duration(left * sum(trained_seconds) / len(trained_seconds))} left" if trained_seconds else ""
        what = {"new": "training", "resumable": "resuming", "restart": "training again (no checkpoint)"}[state]
        done = sum(o.status != "failed" for o in outcomes)
        failed = sum(o.status == "failed" for o in outcomes)
        news(f"[{i + 1}/{total}] {planned.arm} seed {planned.seed}: {what} ({done} done, {failed} failed{eta})")
        if state == "restart":
            shutil.rmtree(planned.root)
        (planned.root / "error.txt").unlink(missing_ok=True)
        started = time.time()
        try:
            train(catalog, resolved, base_dir, planned.root, display(planned), resume=state == "resumable")
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # noqa: BLE001 -- one run failing must not stop the others
            planned.root.mkdir(parents=True, exist_ok=True)
            (planned.root / "error.txt").write_text(traceback.format_exc(), encoding="utf-8")
            message = f"{type(exc).__name__}: {exc}".splitlines()[0]
            outcomes.append(Outcome(planned.arm, planned.seed, planned.root, "failed", message))
            news(f"{planned.arm} seed {planned.seed} failed: {message} (traceback in {planned.root / 'error.txt'})")
            continue
        seconds = time.time() - started
        trained_seconds.append(seconds)
        outcomes.append(Outcome(planned.arm, planned.seed, planned.root, "finished", seconds=seconds))
    return outcomes


def _duration(seconds: float) -> str:
    minutes = math.ceil(seconds / 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes / 60:.1f} h"
