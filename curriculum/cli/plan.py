"""Show the schedule before training: stages, mu over steps, per-task SFT/RL mix and totals (SFT
examples, RL prompts, rollouts), and what it will cost (tokens and training FLOPs, estimated as
`curriculum.compute` says). Loads the task data and the tokenizer; a hub model's weights are not loaded
(its parameters are counted from its config). Adaptive schedules are shown as they would run with no
measurements yet."""

from __future__ import annotations

import argparse
import json

from curriculum.cli.common import base_dir, load
from curriculum.cli.output import console

SHOWN = 40  # curriculum.views.plan.SHOWN_TASKS (not imported here: --help stays light)

HELP = "show the schedule a catalog will run"
EXAMPLES = """examples:
  curriculum plan catalogs/demo.yaml
  curriculum plan catalogs/demo.yaml schedule.kind=sequential schedule.sft_steps=100
  curriculum plan catalogs/demo.yaml --json > plan.json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("catalog", help="catalog YAML file")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="overrides, e.g. schedule.kind=sequential")
    parser.add_argument("--steps", type=int, help="optimizer steps (same as training.steps=N)")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON (stages, mu, tasks, totals, cost)")
    parser.add_argument("--all-tasks", action="store_true", help=f"list every task (default: the first {SHOWN})")


def run(args: argparse.Namespace) -> int:
    from curriculum.report.plan import plan_summary
    from curriculum.run.setup import load_tasks, plan_cost_of, plan_segments
    from curriculum.views.plan import render_plan

    catalog = load(args.catalog, args.overrides, args.steps)
    with console.status("loading task data"):
        tasks = load_tasks(catalog, base_dir(args.catalog))
    segments, adaptive = plan_segments(catalog, tasks)
    with console.status("counting the model's parameters and the tasks' tokens"):
        cost = plan_cost_of(catalog, tasks, segments, base_dir(args.catalog))
    summary = plan_summary(catalog, tasks, segments, adaptive, cost)
    if args.json:
        print(json.dumps(summary, indent=1, default=str))
        return 0
    render_plan(summary, console, all_tasks=args.all_tasks)
    return 0
