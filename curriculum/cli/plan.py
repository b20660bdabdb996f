"""Show the schedule before training: stages, mu over steps, per-task SFT/RL mix and totals (SFT
examples, RL prompts, rollouts), and what it will cost (tokens and training FLOPs, estimated as
`curriculum.compute` says). Loads the task data and the tokenizer; a hub model's weights are not loaded
(its parameters are counted from its config). Adaptive schedules are shown as they would run with no
measurements yet (nominal), or with `--simulate` against surrogate learning curves; `--diff` puts two plans
side by side."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from curriculum.cli.common import base_dir, load, with_steps
from curriculum.cli.output import console

SHOWN = 40  # curriculum.views.plan.SHOWN_TASKS (not imported here: --help stays light)

HELP = "show the schedule a catalog will run"
EXAMPLES = """examples:
  curriculum plan catalogs/demo.yaml
  curriculum plan catalogs/demo.yaml schedule.kind=sequential schedule.sft_steps=100
  curriculum plan catalogs/demo.yaml schedule.kind=phase_aware --simulate
  curriculum plan catalogs/demo.yaml --diff schedule.kind=sequential schedule.sft_steps=150
  curriculum plan catalogs/demo.yaml --diff catalogs/experiment.yaml
  curriculum plan catalogs/demo.yaml --json > plan.json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("catalog", help="catalog YAML file")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="overrides, e.g. schedule.kind=sequential")
    parser.add_argument("--steps", type=int, help="optimizer steps (same as training.steps=N)")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON (stages, mu, tasks, totals, cost)")
    parser.add_argument(
        "--all-tasks", action="store_true", help=f"list every task and stage (default: the first {SHOWN} of each)"
    )
    parser.add_argument(
        "--simulate",
        action="store_true",
        help="run the schedule against surrogate learning curves (curriculum.report.simulate) and show how an "
        "adaptive policy reacts; labelled simulated",
    )
    parser.add_argument(
        "--diff",
        nargs="+",
        metavar="OTHER",
        help="compare with another plan: a catalog file (and its overrides), or overrides of this catalog",
    )


def run(args: argparse.Namespace) -> int:
    from curriculum.report.plan import plan_diff
    from curriculum.views.plan import render_plan, render_plan_diff

    summary = make_plan(args.catalog, with_steps(args.overrides, args.steps), args.simulate)
    if args.diff:
        path, overrides = other_plan(args.catalog, with_steps(args.overrides, args.steps), args.diff, args.steps)
        other = make_plan(path, overrides, args.simulate)
        rows = plan_diff(summary, other)
        if args.json:
            print(json.dumps({"a": summary, "b": other, "diff": rows}, indent=1, default=str))
        else:
            render_plan_diff(summary, other, rows, console)
        return 0
    if args.json:
        print(json.dumps(summary, indent=1, default=str))
        return 0
    render_plan(summary, console, all_tasks=args.all_tasks)
    return 0


def other_plan(path: str, overrides: list[str], diff: list[str], steps: int | None) -> tuple[str, list[str]]:
    """`--diff`: a catalog file (a path that exists, or has no `=`) with its own overrides and `--steps`, or
    this catalog with these overrides added."""
    first = diff[0]
    if "=" not in first or Path(first).exists():
        return first, with_steps(diff[1:], steps)
    return path, [*overrides, *diff]


def make_plan(path: str, overrides: list[str], simulate: bool) -> dict:
    from curriculum.report.plan import plan_summary
    from curriculum.report.simulate import simulate as run_simulation
    from curriculum.run.setup import load_tasks, make_scheduler, plan_cost_of, plan_segments
    from schedulers.plan import segments_of

    catalog = load(path, overrides)
    with console.status(f"loading the task data of {path}"):
        tasks = load_tasks(catalog, base_dir(path))
    segments, adaptive = plan_segments(catalog, tasks)
    curves, mode = None, None
    if simulate:
        every, steps = catalog.evaluation.every, catalog.training.steps
        ends = [s.last + 1 for s, after in zip(segments, segments[1:]) if s.stage != after.stage]
        evals = {0, *(range(every, steps, every) if every else ()), *ends}  # as the run evaluates
        with console.status(f"simulating {steps:,} steps of {catalog.schedule.kind}"):
            decisions, curves = run_simulation(catalog, tasks, make_scheduler(catalog, tasks), evals)
        segments, mode = segments_of(decisions), "simulated"
    with console.status("counting the model's parameters and the tasks' tokens"):
        cost = plan_cost_of(catalog, tasks, segments, base_dir(path))
    summary = plan_summary(catalog, tasks, segments, adaptive, cost, mode)
    if curves is not None:
        summary["simulation"] = curves
    return summary
