"""Train on a catalog: a live progress bar (loss, reward, mu); the run folder gets the resolved
catalog, the planned and executed decisions, step metrics, eval records and checkpoints.

`--resume RUN` continues a stopped or killed run from its latest checkpoint, exactly as if it had not
stopped. It uses the catalog saved in the run; `training.steps=N` (or `--steps`) may extend the run and
the checkpoint cadence may change, nothing else: a resume whose catalog changed (a task added, removed
or reweighted, a schedule or data change) is refused with the list of changes, never half-applied.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
from pathlib import Path

from curriculum.cli.common import base_dir, load, with_steps
from curriculum.cli.output import console
from curriculum.errors import UserError

HELP = "train on a catalog (writes a run folder), or --resume a run"
EXAMPLES = """examples:
  curriculum train catalogs/demo.yaml
  curriculum train catalogs/demo.yaml --steps 50 --out runs/quick training.lr=5e-4
  curriculum train --resume runs/quick
  curriculum train catalogs/demo.yaml > train.log    # a line every 10 steps
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("catalog", nargs="?", help="catalog YAML file (with --resume: optional, must match the run)")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="overrides, e.g. schedule.kind=sequential")
    parser.add_argument("--out", help="run folder (default: runs/<name>-<time>)")
    parser.add_argument("--steps", type=int, help="optimizer steps (same as training.steps=N)")
    parser.add_argument("--resume", metavar="RUN", help="continue the run in folder RUN from its latest checkpoint")
    parser.add_argument("--no-progress", action="store_true", help="no live bar: plain lines, as in a log file")
    parser.add_argument(
        "--log-every", type=int, default=10, metavar="N", help="without the bar, a line every N steps (default 10)"
    )
    parser.add_argument("--quiet", action="store_true", help="no step or eval lines; messages and the summary only")
    parser.add_argument(
        "--tensorboard", action="store_true", help="also log every step and eval number to RUN/tensorboard"
    )
    parser.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="torch CPU threads (default: the cores; a resumed run: the count it started with); 1 when other "
        "processes share the cores (BENCHMARKS.md)",
    )


def run(args: argparse.Namespace) -> int:
    from curriculum.report import load_run
    from curriculum.report.load import task_kinds
    from curriculum.report.summary import eval_summary
    from curriculum.run.loop import default_out, train
    from curriculum.run.resume import catalog_for_resume
    from curriculum.views.train import LiveDisplay, render_summary
    from trainer.distributed import env_rank

    if args.log_every < 1:
        raise UserError(f"--log-every must be at least 1, got {args.log_every}")
    display = LiveDisplay(console, bar=not args.no_progress, every=args.log_every, quiet=args.quiet)
    overrides = with_steps(list(args.overrides), args.steps)
    catalog_path = args.catalog
    if args.resume:
        if catalog_path and "=" in catalog_path and not Path(catalog_path).exists():
            overrides, catalog_path = [catalog_path, *overrides], None  # `--resume RUN key=value`
        root = Path(args.resume)
        catalog, resolved, base = catalog_for_resume(root, catalog_path, overrides)
        with _logged(display, root, args.tensorboard) as shown:
            run = train(catalog, resolved, base, root, shown, resume=True, threads=args.threads)
    else:
        if not catalog_path:
            raise UserError("give a catalog file (curriculum train CATALOG) or --resume RUN")
        catalog = load(catalog_path, overrides)
        out = Path(args.out) if args.out else default_out(catalog)
        with _logged(display, out, args.tensorboard) as shown:
            run = train(
                catalog, catalog.model_dump(mode="json"), base_dir(catalog_path), out, shown, threads=args.threads
            )
    info = run.read_info()
    if env_rank() > 0:  # under torchrun rank 0 speaks for the job
        return 128 + int(getattr(signal, info["stopped_by"])) if info.get("stopped_by") else 0
    if info.get("stopped_by"):  # a graceful stop: the shell's code for that signal
        console.print(f"run folder: [bold]{run.root}[/]")
        return 128 + int(getattr(signal, info["stopped_by"]))
    if info.get("status") == "finished":
        done = load_run(run.root)
        summary = eval_summary(done["evals"], task_kinds(done["catalog"], done["evals"]))
        if summary is not None:
            render_summary(summary, console)
    console.print(f"run folder: [bold]{run.root}[/]")
    return 0


@contextlib.contextmanager
def _logged(display, root: Path, tensorboard: bool):
    """The display, and with --tensorboard a TensorBoard log into root/tensorboard beside it."""
    from trainer.distributed import env_rank

    if not tensorboard or env_rank() > 0:
        yield display
        return
    from curriculum.run.tensorboard import Both, TensorBoardLog

    log = TensorBoardLog(root / "tensorboard")
    try:
        yield Both(display, log)
    finally:
        log.close()
