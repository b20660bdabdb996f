"""The runs of an experiment (`curriculum.experiment.planning`), each an ordinary run folder, trained (or
skipped, or resumed) one after another, or `--jobs N` at once (`run_experiment`).

    <out>/experiment.json          what was asked: arms and their overrides, seeds, matching, budget
    <out>/<arm>/seed-<seed>/       a run folder (`curriculum inspect`, `curriculum train --resume` work on it)
    <out>/results.parquet          one row per arm x seed x task (`curriculum.experiment.results`)

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
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from curriculum.catalog import Catalog
from curriculum.catalog.yamlio import read_yaml_file
from curriculum.experiment.planning import Experiment, ExperimentError, PlannedRun
from curriculum.run.display import Display, Silent
from curriculum.run.loop import train
from curriculum.run.resume import resume_changes
from curriculum.run.rundir import RunDir
from curriculum.run.setup import data_fingerprint, load_tasks
from curriculum.run.stopping import stop_on_signals
from trainer.checkpoint import checkpoint_dirs


class ExperimentStopped(Exception):
    """A run was stopped by a signal (SIGINT, SIGTERM): the experiment stops with it, to be continued by the
    same command. `signal`: the signal's name."""

    def __init__(self, signal: str):
        super().__init__(signal)
        self.signal = signal


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
