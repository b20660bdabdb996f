"""An experiment's plan: every arm x seed of one catalog as a checked run (`plan_experiment`), each with its
catalog, before anything trains; `curriculum.experiment.runner` trains them.

**Matching.** `steps`: every arm trains the catalog's `training.steps`. `compute`: every arm trains until the
same training FLOPs (`curriculum.compute`): the budget C is the baseline arm's *estimated* cost at
`training.steps` (`plan_cost`, responses as long as the demonstrations). Each arm gets
`training.compute_budget = C`, so its run ends at the first step whose *counted* training FLOPs reach C
(at most one step past it). A fixed arm's `training.steps` is scaled so its own estimated cost is C (three
rounds of steps <- steps x C / cost(steps)), and a built-in arm's schedule is made for the scaled steps
(`sft-then-rl` switches at half of them; task stages split them); what a schedule states in steps stays
as stated (chord's `decay_steps`). A `bwt_order` probe's bursts are part of the estimate (and of the
counted budget). An adaptive arm keeps `training.steps`, since its plan is only nominal. A run may end
before its steps or go past them (the schedule's last decisions go on).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from curriculum.catalog import Catalog, CatalogInvalid, load_catalog
from curriculum.catalog.experiment import DEFAULT_ARMS, ExperimentSpec, arm_overrides
from curriculum.errors import UserError
from curriculum.run.setup import load_tasks, make_scheduler, plan_cost_of, plan_segments
from schedulers.plan import clip

MATCH_ROUNDS = 3  # rounds of steps <- steps x C / cost(steps) for a fixed arm under --match compute


class ExperimentError(UserError):
    """The experiment cannot start as asked; the message is for the user."""


@dataclass(frozen=True)
class PlannedRun:
    arm: str
    seed: int
    root: Path
    overrides: list[str]  # on top of the catalog file: the command line's, the arm's, matching, seed
    catalog: Catalog  # the catalog file with the overrides, checked


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

        def at(arm: str, n: int) -> list[str]:  # the arm at n steps: a built-in arm's schedule follows them
            scaled = {**data, "training": {**data["training"], "steps": n}}
            return [*overrides, *arm_overrides(arm, scaled, spec.define), f"training.steps={n}"]

        for arm in chosen:
            if not _adaptive(arm_catalogs[arm], tasks):
                try:
                    steps[arm] = _matched_steps(path, lambda n, arm=arm: at(arm, n), steps[arm], budget, tasks)
                except (UserError, ValueError) as exc:
                    raise ExperimentError(
                        f"arm {arm}: no number of steps matches the compute budget ({budget:.3g} FLOPs, the "
                        f"estimated cost of {base}): {exc}"
                    ) from None
            by_arm[arm] = at(arm, steps[arm])
            extra[arm] = [f"training.compute_budget={budget!r}"]
    runs = []
    for arm in chosen:
        for seed in seed_list:
            run_overrides = [*by_arm[arm], *extra[arm], f"seed={seed}"]
            catalog_of_run = _load_arm(path, arm, run_overrides)
            runs.append(PlannedRun(arm, seed, out / arm / f"seed-{seed}", run_overrides, catalog_of_run))
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
    """The estimated training FLOPs of a catalog's plan, with a `bwt_order` probe's bursts estimated as
    probe_steps x tasks steps at the plan's mean cost per step over its first probe_steps steps."""
    segments, _ = plan_segments(catalog, tasks)
    cost = plan_cost_of(catalog, tasks, segments, path.resolve().parent)["expected"]["training_flops"]
    order = catalog.schedule.order
    if order is not None and order.kind == "bwt_order" and order.probe_steps:
        head = clip(segments, 0, order.probe_steps - 1)
        per_step = plan_cost_of(catalog, tasks, head, path.resolve().parent)["expected"]["training_flops"]
        per_step /= sum(s.steps for s in head)
        cost += per_step * order.probe_steps * len(tasks)
    return float(cost)


def _matched_steps(path: Path, arm_at: Callable[[int], list[str]], steps: int, budget: float, tasks: list) -> int:
    """The steps whose estimated cost is the budget (MATCH_ROUNDS rounds of proportional correction);
    `arm_at(n)` are the arm's overrides at n steps."""
    for _ in range(MATCH_ROUNDS):
        cost = _cost(load_catalog(path, arm_at(steps)), tasks, path)
        if cost <= 0:
            raise ExperimentError(f"{path}: an arm's planned cost is 0 FLOPs: nothing to match")
        steps = max(1, round(steps * budget / cost))
    return steps
