"""Train on a catalog: a live progress bar (loss, reward, mu); the run folder gets the resolved
catalog, the planned and executed decisions, step metrics, eval records and checkpoints."""

from __future__ import annotations

import argparse
from pathlib import Path

from curriculum.commands import base_dir, catalog_or_fail
from curriculum.console import Failure, console

HELP = "train on a catalog (writes a run folder)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("catalog", help="catalog YAML file")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="overrides, e.g. schedule.kind=sequential")
    parser.add_argument("--out", help="run folder (default: runs/<name>-<time>)")
    parser.add_argument("--steps", type=int, help="optimizer steps (same as training.steps=N)")
    parser.add_argument("--no-progress", action="store_true", help="no live progress bar (logs, CI)")


def run(args: argparse.Namespace) -> int:
    from curriculum.run import RunError, default_out, train
    from schedulers.base import SchedulerError
    from trainer.model import ModelLoadError
    from trainer.runtime import RuntimeUnavailable

    overrides = list(args.overrides) + ([f"training.steps={args.steps}"] if args.steps is not None else [])
    catalog = catalog_or_fail(args.catalog, overrides)
    out = Path(args.out) if args.out else default_out(catalog)
    resolved = catalog.model_dump(mode="json")
    try:
        run = train(catalog, resolved, base_dir(args.catalog), out, console, progress=not args.no_progress)
    except (RunError, SchedulerError, ModelLoadError, RuntimeUnavailable) as exc:
        raise Failure(str(exc)) from None
    console.print(f"run folder: [bold]{run.root}[/]")
    return 0
