"""Inspect a run: what it measured, from its folder alone. Per task, the base, best and final score, entropy and
answer diversity first -> last, KL to the base model; the accuracy matrix R as a heat table with ACC, BWT, FWT
(both normalizations), forgetting and intransigence; the entropy trend; update sparsity of the final model in
float32 and bfloat16 (and, for runs from one base, the overlap of their changed parameters); each task's score
curve with its phases; the bwt_order probe (order.json) against what the run realized; planned vs actual mix per
task, drift flagged. `--decisions [--from --to --task]` lists the decisions with their why instead; `--json`
prints the same data as JSON. `curriculum report` is the same command (its old name). The data comes from
`curriculum.report`."""

from __future__ import annotations

import argparse
import json
import sys

from curriculum.cli.output import console
from curriculum.errors import UserError

HELP = "what a run measured: per-task scores, transfer, entropy, KL, sparsity, phases, decisions"
EXAMPLES = """examples:
  curriculum inspect runs/quick --decisions --from 40 --to 60 --task addition
  curriculum inspect runs/quick
  curriculum inspect runs/a runs/b --no-sparsity
  curriculum inspect runs/quick --json > report.json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from curriculum.report import WINDOW

    parser.add_argument("runs", nargs="+", metavar="RUN", help="run folder(s); several: also their changed-set overlap")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--no-sparsity", action="store_true", help="skip the weights (no model is loaded)")
    parser.add_argument("--window", type=int, default=WINDOW, help=f"evals in the entropy trend (default {WINDOW})")
    parser.add_argument("--decisions", action="store_true", help="list the decisions with their why instead")
    parser.add_argument(
        "--from", dest="first", type=int, default=0, metavar="STEP", help="with --decisions: first step"
    )
    parser.add_argument("--to", dest="last", type=int, metavar="STEP", help="with --decisions: last step")
    parser.add_argument("--task", help="with --decisions: only steps that gave this task rows")


def run(args: argparse.Namespace) -> int:
    from curriculum.report import build_report
    from curriculum.views.report import render_report

    if args.window < 2:
        raise UserError(f"--window must be at least 2 (a slope needs two evals), got {args.window}")
    if args.decisions:
        return _decisions(args)
    report = build_report(args.runs, sparsity=not args.no_sparsity, window=args.window)
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        render_report(report, console)
    return 0


def _decisions(args: argparse.Namespace) -> int:
    from curriculum.report import load_run
    from curriculum.report.load import task_kinds
    from curriculum.report.sections import decisions_section
    from curriculum.views.report import render_decisions

    for folder in args.runs:
        run = load_run(folder)
        tasks = list(task_kinds(run["catalog"], run["evals"]))
        if args.task is not None and args.task not in tasks:
            raise UserError(f"--task {args.task!r} is not a task of {folder}: {', '.join(tasks)}")
        rows = decisions_section(run["decisions"], tasks, args.first, args.last, args.task)
        if args.json:
            sys.stdout.write(json.dumps(rows, indent=1) + "\n")
        else:
            render_decisions(rows, console)
    return 0
