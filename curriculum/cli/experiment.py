"""Answer "does a continuous schedule beat SFT-then-RL on my tasks?": train several arms (schedules) over
several seeds, each an ordinary run folder under --out, then compare them with honest statistics (mean and
95% interval per task and overall, a paired comparison with the baseline, a verdict per arm) and write
<out>/results.parquet. Arms and seeds come from the command line or the catalog's `experiment:` section.

Started again with the same arguments, it skips finished runs, resumes an interrupted one exactly and
retries failed ones. `--match compute` gives every arm the same training FLOPs (curriculum.experiment.planning
says how). `--list-arms` shows the built-in arms.
"""

from __future__ import annotations

import argparse
import os
import signal
from pathlib import Path

from curriculum.cli.common import load
from curriculum.cli.output import console
from curriculum.errors import UserError

HELP = "compare schedules (arms) over seeds: staged vs continuous, with intervals and verdicts"
EXAMPLES = """examples:
  curriculum experiment catalogs/experiment.yaml
  curriculum experiment catalogs/demo.yaml --arms sft-then-rl,chord --seeds 3
  curriculum experiment catalogs/experiment.yaml --jobs 2        # two runs at once, one thread each
  curriculum experiment --list-arms
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("catalog", nargs="?", help="catalog YAML file")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="overrides for every arm")
    parser.add_argument("--arms", help="comma-separated arms (default: the catalog's experiment.arms, or four)")
    parser.add_argument("--seeds", type=int, help="seeds per arm: the catalog's seed, +1, ... (default 3)")
    parser.add_argument("--match", choices=("steps", "compute"), help="same steps (default) or same training FLOPs")
    parser.add_argument("--baseline", help="the arm the others are compared with (default sft-then-rl)")
    parser.add_argument("--steps", type=int, help="optimizer steps per run (same as training.steps=N)")
    parser.add_argument("--out", help="experiment folder (default: runs/<name>-experiment); rerun to continue")
    parser.add_argument("--no-progress", action="store_true", help="no live progress bar (logs, CI)")
    parser.add_argument(
        "--jobs", type=int, default=1, metavar="N", help="train N runs at once, each in its own process (default 1)"
    )
    parser.add_argument(
        "--threads", type=int, metavar="N", help="CPU threads per run (default: the cores, shared out by --jobs)"
    )
    parser.add_argument("--list-arms", action="store_true", help="show the built-in arms and exit")


def run(args: argparse.Namespace) -> int:
    from curriculum.catalog.experiment import BUILTIN_ARMS
    from curriculum.views.experiment import render_arms

    if args.list_arms:
        render_arms({name: doc for name, (doc, _) in BUILTIN_ARMS.items()}, console)
        return 0
    if not args.catalog:
        raise UserError("give a catalog file: curriculum experiment CATALOG [--arms A,B] [--seeds N]")
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise UserError("an experiment runs in one process (--jobs N for runs side by side); torchrun is for train")
    if args.jobs < 1 or (args.threads is not None and args.threads < 1):
        raise UserError(f"--jobs and --threads must be at least 1, got {args.jobs} and {args.threads}")
    if args.seeds is not None and args.seeds < 1:
        raise UserError(f"--seeds must be at least 1, got {args.seeds}")
    from curriculum.experiment.planning import plan_experiment
    from curriculum.experiment.results import collect, compare
    from curriculum.experiment.runner import ExperimentStopped, run_experiment
    from curriculum.run.rundir import write_table
    from curriculum.views.experiment import render_experiment
    from curriculum.views.train import LiveDisplay

    overrides = [*args.overrides, *([f"training.steps={args.steps}"] if args.steps is not None else [])]
    catalog = load(args.catalog, overrides)
    out = Path(args.out) if args.out else Path("runs") / f"{catalog.name}-experiment"
    arms = [a.strip() for a in args.arms.split(",") if a.strip()] if args.arms else None
    with console.status("checking every arm's catalog and the task data"):
        experiment = plan_experiment(
            args.catalog, overrides, out, arms=arms, seeds=args.seeds, match=args.match, baseline=args.baseline
        )
    console.print(
        f"[bold]experiment[/] {catalog.name}: {len(experiment.arms)} arms x {len(experiment.seeds)} seeds "
        f"({', '.join(experiment.arms)}; seeds {', '.join(map(str, experiment.seeds))}), "
        f"baseline {experiment.baseline}, matched on {experiment.match}",
        highlight=False,
    )
    if experiment.budget is not None:
        steps = ", ".join(f"{arm} {n}" for arm, n in experiment.arm_steps.items())
        console.print(
            f"compute budget: {experiment.budget:.3g} training FLOPs per run; steps shaping each schedule: {steps}"
        )
    if not console.is_terminal:  # a log or a pipe: long lines rather than tables folded at 80 columns
        console.width = max(console.width, 160)
    display = LiveDisplay(console, bar=not args.no_progress)
    try:
        outcomes = run_experiment(
            experiment, lambda run: display, lambda text: console.print(text, highlight=False), args.jobs, args.threads
        )
    except ExperimentStopped as stopped:
        console.print(
            f"experiment stopped by {stopped.signal}; each run keeps its last checkpoint: run the same command "
            "again to continue",
            highlight=False,
        )
        return 128 + int(getattr(signal, stopped.signal, signal.SIGINT))
    rows = collect(outcomes)
    write_table(out / "results.parquet", rows)
    failed = [o for o in outcomes if o.status == "failed"]
    render_experiment(compare(rows, experiment.arms, experiment.baseline, failed), console, experiment.budget)
    console.print(f"experiment folder: [bold]{out}[/] (results.parquet, one run folder per arm and seed)")
    return 1 if failed else 0
