"""Compare finished runs side by side, with the experiment's tables: per-task final scores (best per column
marked), the overall final score with its interval, the normalized change, the paired difference with the
baseline and its verdict, drift and diversity by task kind, and compute. Runs laid out as `<arm>/seed-<s>/`
(an experiment's) are the seeds of one arm; an experiment folder brings all its runs; any other run folder
is an arm of its own, named after its folder.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from curriculum.cli.output import console
from curriculum.errors import UserError

HELP = "compare runs or experiments side by side (scores, transfer, drift, compute)"
EXAMPLES = """examples:
  curriculum compare runs/staged runs/chord
  curriculum compare runs/experiment-experiment runs/my-new-schedule --baseline sft-then-rl
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folders", nargs="+", metavar="RUN|EXPERIMENT", help="run folders or experiment folders")
    parser.add_argument("--baseline", help="the arm the others are compared with (default: the first)")


def run(args: argparse.Namespace) -> int:
    import polars as pl

    from curriculum.experiment.plots import is_experiment
    from curriculum.experiment.results import compare, run_rows
    from curriculum.report import load_run
    from curriculum.views.experiment import render_experiment

    rows, arms = [], []
    for text in args.folders:
        folder = Path(text)
        if is_experiment(folder):
            found = pl.read_parquet(folder / "results.parquet").to_dicts()
            rows += found
            arms += [a for a in dict.fromkeys(r["arm"] for r in found) if a not in arms]
            continue
        load_run(folder)  # a clear error for a folder that is not a run
        is_seed = folder.name.startswith("seed-") and folder.name[5:].isdigit()
        arm = folder.resolve().parent.name if is_seed else folder.name
        seed = int(folder.name[5:]) if is_seed else len([a for a in arms if a == arm])
        rows += run_rows(arm, seed, folder)
        if arm not in arms:
            arms.append(arm)
    baseline = args.baseline or arms[0]
    if baseline not in arms:
        raise UserError(f"--baseline {baseline!r} is none of the arms: {', '.join(arms)}")
    if not console.is_terminal:
        console.width = max(console.width, 160)
    render_experiment(compare(rows, arms, baseline), console)
    return 0
