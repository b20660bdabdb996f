"""Train on a catalog: a live progress bar (loss, reward, mu); the run folder gets the resolved
catalog, the planned and executed decisions, step metrics, eval records and checkpoints.

`--resume RUN` continues a stopped or killed run from its latest checkpoint, exactly as if it had not
stopped. It uses the catalog saved in the run; `training.steps=N` (or `--steps`) may extend the run and
the checkpoint cadence may change, nothing else: a resume whose catalog changed (a task added, removed
or reweighted, a schedule or data change) is refused with the list of changes, never half-applied.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from curriculum.commands import base_dir, catalog_or_fail
from curriculum.console import Failure, console

HELP = "train on a catalog (writes a run folder), or --resume a run"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("catalog", nargs="?", help="catalog YAML file (with --resume: optional, must match the run)")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="overrides, e.g. schedule.kind=sequential")
    parser.add_argument("--out", help="run folder (default: runs/<name>-<time>)")
    parser.add_argument("--steps", type=int, help="optimizer steps (same as training.steps=N)")
    parser.add_argument("--resume", metavar="RUN", help="continue the run in folder RUN from its latest checkpoint")
    parser.add_argument("--no-progress", action="store_true", help="no live progress bar (logs, CI)")


def run(args: argparse.Namespace) -> int:
    from curriculum.run import RunError, default_out, resume_changes, train
    from schedulers.base import SchedulerError
    from trainer.model import ModelLoadError
    from trainer.runtime import RuntimeUnavailable

    overrides = list(args.overrides) + ([f"training.steps={args.steps}"] if args.steps is not None else [])
    catalog_path = args.catalog
    if args.resume and catalog_path and "=" in catalog_path and not Path(catalog_path).exists():
        overrides, catalog_path = [catalog_path, *overrides], None  # `--resume RUN key=value`
    try:
        if args.resume:
            root = Path(args.resume)
            saved_file = root / "catalog.yaml"
            if not saved_file.is_file():
                raise Failure(f"{root} is not a run folder (no catalog.yaml)")
            from curriculum.rundir import RunDir

            base = Path(RunDir(root).read_info().get("base_dir", root))
            saved = yaml.safe_load(saved_file.read_text(encoding="utf-8"))
            if catalog_path:
                catalog = catalog_or_fail(catalog_path, overrides)
            else:
                catalog = catalog_or_fail(saved_file, overrides, base)
            resolved = catalog.model_dump(mode="json")
            changes = resume_changes(saved, resolved)
            if changes:
                raise Failure(
                    f"cannot resume {root}: the catalog differs from the one the run started with",
                    *changes,
                    "only training.steps and the checkpoint cadence may change on a resume; "
                    "start a new run (--out) for a changed catalog",
                )
            run = train(catalog, resolved, base, root, console, progress=not args.no_progress, resume=True)
        else:
            if not catalog_path:
                raise Failure("give a catalog file (curriculum train CATALOG) or --resume RUN")
            catalog = catalog_or_fail(catalog_path, overrides)
            out = Path(args.out) if args.out else default_out(catalog)
            resolved = catalog.model_dump(mode="json")
            run = train(catalog, resolved, base_dir(catalog_path), out, console, progress=not args.no_progress)
    except (RunError, SchedulerError, ModelLoadError, RuntimeUnavailable) as exc:
        raise Failure(str(exc)) from None
    console.print(f"run folder: [bold]{run.root}[/]")
    return 0
