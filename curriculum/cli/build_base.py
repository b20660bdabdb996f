"""Rebuild the tiny-base model (the demo's starting point) by a short pre-training on the built-in
tasks (recipe: `curriculum.run.base_model`). 7 to 10 minutes on 2 CPU cores; prints the held-out score per
task, as the model answers by itself and once started on a scratchpad."""

from __future__ import annotations

import argparse
from pathlib import Path

from curriculum.cli.output import console

HELP = "rebuild the tiny-base model shipped in trainer/assets"
EXAMPLES = """examples:
  curriculum build-base                       # 7-10 min on 2 cores; byte-identical to the shipped weights
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from trainer.assets import TINY_BASE_DIR  # a path only: the parser must not import torch

    parser.add_argument("--out", default=str(TINY_BASE_DIR), help=f"output folder (default: {TINY_BASE_DIR})")
    parser.add_argument("--steps", type=int, default=None, help="pre-training steps (default: the shipped recipe)")


def run(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from curriculum.run.base_model import PRETRAIN_STEPS, build_base
    from curriculum.views.listing import render_base_scores

    kwargs = {} if args.steps is None else {"steps": args.steps}
    with Progress(console=console) as progress:
        bar = progress.add_task("pre-training tiny-base", total=args.steps or PRETRAIN_STEPS)

        def on_step(step: int, loss: float) -> None:
            progress.update(bar, completed=step + 1, description=f"pre-training tiny-base  loss {loss:.3f}")

        scores = build_base(Path(args.out), on_step=on_step, **kwargs)
    render_base_scores(scores, console)
    console.print(f"saved to {args.out}")
    return 0
