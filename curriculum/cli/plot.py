"""Draw a run as pictures: per-task score curves with phases shaded and stages marked, entropy and KL to the
base over steps, mu planned and executed, the accuracy-matrix heatmap, planned vs actual mix, and an
`index.md` that shows them with the key numbers.

    curriculum plot runs/demo-20261202-151742                # into RUN/plots
    curriculum plot runs/quick --out pictures/quick
"""

from __future__ import annotations

import argparse
from pathlib import Path

from curriculum.cli.output import console
from curriculum.errors import UserError

HELP = "draw a run as PNG figures with an index.md (needs matplotlib)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", metavar="RUN", help="a run folder")
    parser.add_argument("--out", help="folder for the figures (default: RUN/plots)")


def run(args: argparse.Namespace) -> int:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UserError("curriculum plot needs matplotlib: pip install 'curriculum[plot]'") from None
    from curriculum.report import load_run
    from curriculum.report.plots import plot_data
    from curriculum.views.plots import write_plots

    data = plot_data(load_run(args.folder))
    out = Path(args.out) if args.out else Path(args.folder) / "plots"
    figures = write_plots(data, out)
    for name, text in figures:
        console.print(f"[bold]{out / name}[/]: {text}", highlight=False)
    console.print(f"index: [bold]{out / 'index.md'}[/]")
    return 0
