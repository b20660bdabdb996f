"""Rebuild the tiny-base model (the demo's starting point) by a short pre-training on the built-in
tasks (recipe: `curriculum.base_model`). About 7 minutes on 2 CPU cores; prints the held-out score per
task, as the model answers by itself and once started on a scratchpad."""

from __future__ import annotations

import argparse
from pathlib import Path

from curriculum.console import console

HELP = "rebuild the tiny-base model shipped in trainer/assets"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from trainer.tiny import TINY_BASE_DIR

    parser.add_argument("--out", default=str(TINY_BASE_DIR), help=f"output folder (default: {TINY_BASE_DIR})")
    parser.add_argument("--steps", type=int, default=None, help="pre-training steps (default: the shipped recipe)")


def run(args: argparse.Namespace) -> int:
    from curriculum.base_model import build_base

    kwargs = {} if args.steps is None else {"steps": args.steps}
    scores = build_base(Path(args.out), console=console, **kwargs)
    console.print("greedy held-out score   by itself   started with 'work: '")
    for task, score in scores.items():
        console.print(f"{task:22s}  {score['default']:9.3f}   {score['worked']:9.3f}")
    console.print(f"saved to {args.out}")
    return 0
