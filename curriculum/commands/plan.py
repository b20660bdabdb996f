"""Show the schedule before training: stages, mu over steps, per-task SFT/RL mix and totals (SFT
examples, RL prompts, rollouts). Loads the task data (not the model). Adaptive schedules are shown
as they would run with no measurements yet."""

from __future__ import annotations

import argparse

from curriculum.commands import base_dir, catalog_or_fail
from curriculum.console import Failure, console

HELP = "show the schedule a catalog will run"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("catalog", help="catalog YAML file")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="overrides, e.g. schedule.kind=sequential")
    parser.add_argument("--steps", type=int, help="optimizer steps (same as training.steps=N)")


def run(args: argparse.Namespace) -> int:
    from curriculum.plan import render_plan
    from curriculum.run import RunError, load_tasks, plan_decisions, task_infos
    from schedulers.base import SchedulerError

    overrides = list(args.overrides) + ([f"training.steps={args.steps}"] if args.steps is not None else [])
    catalog = catalog_or_fail(args.catalog, overrides)
    try:
        with console.status("loading task data"):
            tasks = load_tasks(catalog, base_dir(args.catalog))
        decisions = plan_decisions(catalog, task_infos(tasks))
    except (RunError, SchedulerError) as exc:
        raise Failure(str(exc)) from None
    render_plan(catalog, tasks, decisions, console)
    return 0
