"""Arms x seeds of one catalog, each an ordinary run folder, run (or skipped, or resumed) one after another, or
`--jobs N` at once (`run_experiment`).

    <out>/experiment.json          what was asked: arms and their overrides, seeds, matching, budget
    <out>/<arm>/seed-<seed>/       a run folder (`curriculum inspect`, `curriculum train --resume` work on it)
    <out>/results.parquet          one row per arm x seed x task (`curriculum.experiment.results`)

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

**Restarting.** An experiment started again with the same arguments skips its finished runs (after checking
that each was made from the same catalog), resumes an interrupted run from its latest checkpoint (exactly,
as `curriculum train --resume`), starts again a run that stopped before its first checkpoint, and tries a
failed run again. A run that raises is reported (its traceback in `<run>/error.txt`) and the others go on.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import shutil
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from curriculum.catalog import Catalog, CatalogInvalid, load_catalog
from curriculum.catalog.experiment import DEFAULT_ARMS, ExperimentSpec, arm_overrides
from curriculum.catalog.yamlio import read_yaml_file
from curriculum.errors import UserError
from curriculum.run.display import Display, Silent
from curriculum.run.loop import train
from curriculum.run.resume import resume_changes
from curriculum.run.rundir import RunDir
from curriculum.run.setup import data_fingerprint, load_tasks, make_scheduler, plan_cost_of, plan_segments
from curriculum.run.stopping import stop_on_signals
from schedulers.plan import clip
from trainer.checkpoint import checkpoint_dirs

MATCH_ROUNDS = 3  # rounds of steps <- steps x C / cost(steps) for a fixed arm under --match compute


class ExperimentError(UserError):
    """The experiment cannot start as asked; the message is for the user."""


class ExperimentStopped(Exception):
    """A run was stopped by a signal (SIGINT, SIGTERM): the experiment stops with it, to be continued by the
    same command. `signal`: the signal's name."""

    def __init__(self, signal: str):
        super().__init__(signal)
        self.signal = signal


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


# ------------------------------------------------------------------------------------------------ running


@dataclass
class Outcome:
    arm: str
    seed: int
    root: Path
    status: str  # finished | skipped (finished before) | failed | stopped (by a signal, or not started)
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


def check_folder(planned: PlannedRun, catalog: Catalog, base_dir: Path) -> None:
    """Refuse a finished or interrupted run folder made from another catalog (the experiment section aside)
    or from other task data than this run's: skipping or resuming it would mix two experiments."""
    if run_state(planned.root) not in ("finished", "resumable"):
        return
    resolved = catalog.model_dump(mode="json")
    saved = read_yaml_file(planned.root / "catalog.yaml")
    changes = resume_changes(saved, resolved)
    if saved.get("training", {}).get("steps") != resolved["training"]["steps"]:
        changes.append(f"training.steps changed: {saved['training']['steps']} -> {resolved['training']['steps']}")
    if RunDir(planned.root).read_info().get("data") != data_fingerprint(load_tasks(catalog, base_dir)):
        changes.append("the task data differs from the data the run trained on")
    if changes:
        raise ExperimentError(
            f"{planned.root} was made from another catalog than this experiment's arm {planned.arm}",
            *changes,
            "use another --out for a changed experiment",
        )


def run_experiment(
    experiment: Experiment,
    display: Callable[[PlannedRun], Display],
    news: Callable[[str], None],
    jobs: int = 1,
    threads: int | None = None,
) -> list[Outcome]:
    """Run every planned run; `display(run)` shows a run's training, `news` one line of progress.

    `jobs` > 1 trains that many runs at once, each in its own process with `threads` CPU threads (default: the
    cores shared out, cores // jobs, at least 1: with a core taken by another process, two threads wait on
    each other and a step is 4x slower, BENCHMARKS.md); their training is not shown, only the news of each
    run. Every run records its threads in run.json; CPU results round differently with another count, so
    the arms of one experiment should share it (they do: one `--jobs`, one `--threads`)."""
    out = experiment.out
    base_dir = experiment.catalog_path.resolve().parent
    for planned in experiment.runs:  # every folder checked before anything trains
        check_folder(planned, planned.catalog, base_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "experiment.json").write_text(json.dumps(experiment.describe(), indent=2), encoding="utf-8")
    if jobs > 1:
        return _run_parallel(experiment, base_dir, news, jobs, threads or max(1, _cores() // jobs))
    outcomes: list[Outcome] = []
    trained_seconds: list[float] = []
    total = len(experiment.runs)
    for i, planned in enumerate(experiment.runs):
        state = run_state(planned.root)
        if state == "finished":
            outcomes.append(Outcome(planned.arm, planned.seed, planned.root, "skipped"))
            news(f"[{i + 1}/{total}] {planned.arm} seed {planned.seed}: finished before, skipped")
            continue
        left = sum(1 for r in experiment.runs[i:] if run_state(r.root) != "finished")
        eta = f", about {_duration(left * sum(trained_seconds) / len(trained_seconds))} left" if trained_seconds else ""
        done = sum(o.status != "failed" for o in outcomes)
        failed = sum(o.status == "failed" for o in outcomes)
        news(f"[{i + 1}/{total}] {planned.arm} seed {planned.seed}: {WHAT[state]} ({done} done, {failed} failed{eta})")
        outcome = train_one(planned, base_dir, state, display(planned), threads)
        if outcome.status == "stopped":
            raise ExperimentStopped(outcome.error or "SIGINT")
        if outcome.status == "failed":
            news(failure_news(planned, outcome))
        else:
            trained_seconds.append(outcome.seconds or 0.0)
        outcomes.append(outcome)
    return outcomes


WHAT = {"new": "training", "resumable": "resuming", "restart": "training again (no checkpoint)"}


def train_one(planned: PlannedRun, base_dir: Path, state: str, display: Display, threads: int | None) -> Outcome:
    """Train (or resume, or start again) one planned run; a run that raises is a failed Outcome with its
    traceback in <run>/error.txt (one run failing must not stop the others)."""
    if state == "restart":
        shutil.rmtree(planned.root)
    (planned.root / "error.txt").unlink(missing_ok=True)
    started = time.time()
    try:
        resolved = planned.catalog.model_dump(mode="json")
        train(planned.catalog, resolved, base_dir, planned.root, display, resume=state == "resumable", threads=threads)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 -- one run failing must not stop the others
        planned.root.mkdir(parents=True, exist_ok=True)
        (planned.root / "error.txt").write_text(traceback.format_exc(), encoding="utf-8")
        message = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return Outcome(planned.arm, planned.seed, planned.root, "failed", message)
    stopped = RunDir(planned.root).read_info().get("stopped_by")
    if stopped:  # a graceful stop (Ctrl-C, SIGTERM): checkpointed, not finished
        return Outcome(planned.arm, planned.seed, planned.root, "stopped", stopped)
    return Outcome(planned.arm, planned.seed, planned.root, "finished", seconds=time.time() - started)


def failure_news(planned: PlannedRun, outcome: Outcome) -> str:
    return f"{planned.arm} seed {planned.seed} failed: {outcome.error} (traceback in {planned.root / 'error.txt'})"


_STOPPED: list[str] = []  # in a worker process: the signal that stopped one of its runs, if any


def _train_in_child(planned: PlannedRun, base_dir: Path, state: str, threads: int | None) -> Outcome:
    """A run in a worker process. Once a signal has stopped one of this worker's runs, the runs it is handed
    after (already queued when the signal came) do not start."""
    if _STOPPED:
        return Outcome(planned.arm, planned.seed, planned.root, "stopped", "not started")
    outcome = train_one(planned, base_dir, state, Silent(), threads)
    if outcome.status == "stopped":
        _STOPPED.append(outcome.error or "SIGINT")
    return outcome


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _run_parallel(
    experiment: Experiment, base_dir: Path, news: Callable[[str], None], jobs: int, threads: int
) -> list[Outcome]:
    """`jobs` runs at once in worker processes (spawned: no torch state shared), in the planned order.

    A first SIGINT or SIGTERM stops the experiment gracefully: no queued run starts, the running ones finish
    their step and checkpoint (a terminal's Ctrl-C reaches them too; a SIGTERM sent to this process alone is
    passed on to them), then ExperimentStopped. A worker that dies (killed, out of memory) fails its run and
    the runs still queued, each with the reason in its error.txt; running the experiment again retries them."""
    total = len(experiment.runs)
    outcomes: dict[int, Outcome] = {}
    news(f"{jobs} runs at once, {threads} CPU thread{'s' if threads > 1 else ''} each")
    context = multiprocessing.get_context("spawn")
    with stop_on_signals() as stop, ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = {}
        for i, planned in enumerate(experiment.runs):
            state = run_state(planned.root)
            if state == "finished":
                outcomes[i] = Outcome(planned.arm, planned.seed, planned.root, "skipped")
                news(f"[{i + 1}/{total}] {planned.arm} seed {planned.seed}: finished before, skipped")
                continue
            # a resumed run goes on with the threads it started with (its run.json), as `train` does unasked
            child_threads = None if state == "resumable" else threads
            futures[pool.submit(_train_in_child, planned, base_dir, state, child_threads)] = i
            news(f"[{i + 1}/{total}] {planned.arm} seed {planned.seed}: {WHAT[state]} (queued)")
        pending, passed_on = set(futures), False
        try:
            while pending:
                done, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
                for future in done:
                    i = futures[future]
                    outcomes[i] = _outcome(future, experiment.runs[i], news, total, outcomes)
                if stop.signal and not passed_on:
                    passed_on = True
                    news(f"{stop.signal}: no more runs start; the running ones finish their step and checkpoint")
                    for future in pending:
                        future.cancel()
                    if stop.signal == "SIGTERM":
                        for process in list(getattr(pool, "_processes", {}).values()):
                            process.terminate()  # SIGTERM: the worker's own graceful stop
        except KeyboardInterrupt:  # a second signal: stop now
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    if stop.signal or any(o.status == "stopped" for o in outcomes.values()):
        raise ExperimentStopped(stop.signal or "SIGINT")
    return [outcomes[i] for i in range(total)]


def _outcome(future: Future, planned: PlannedRun, news: Callable[[str], None], total: int, outcomes: dict) -> Outcome:
    """A finished worker's Outcome, said as news; a worker that died is a failed run with its error.txt."""
    if future.cancelled():
        return Outcome(planned.arm, planned.seed, planned.root, "stopped", "not started")
    try:
        outcome = future.result()
    except Exception as exc:  # noqa: BLE001 -- BrokenProcessPool: the worker died; the other runs are kept
        message = f"its worker process died ({type(exc).__name__}: killed, or out of memory): run it again"
        planned.root.mkdir(parents=True, exist_ok=True)
        (planned.root / "error.txt").write_text(message + "\n", encoding="utf-8")
        outcome = Outcome(planned.arm, planned.seed, planned.root, "failed", message)
    if outcome.status == "failed":
        news(failure_news(planned, outcome))
    elif outcome.status == "stopped" and outcome.error == "not started":
        news(f"{planned.arm} seed {planned.seed}: not started")
    elif outcome.status == "stopped":
        news(f"{planned.arm} seed {planned.seed}: stopped by {outcome.error}, checkpointed")
    else:
        done = sum(o.status in ("finished", "skipped") for o in outcomes.values()) + 1
        news(
            f"{planned.arm} seed {planned.seed}: finished in {_duration(outcome.seconds or 0.0)} ({done}/{total} done)"
        )
    return outcome


def _duration(seconds: float) -> str:
    """12 s, 3 min (minutes rounded up), 2.5 h."""
    if seconds < 60:
        return f"{math.ceil(seconds)} s"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes / 60:.1f} h"
