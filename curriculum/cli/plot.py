"""Draw a run as pictures: per-task score curves with phases shaded and stages marked, entropy and KL to the
base over steps, mu planned and executed, the accuracy-matrix heatmap, planned vs actual mix, and an
`index.md` that shows them with the key numbers. For an experiment's folder: the arms' mean score over
steps with seed bands, and each arm's final score with its interval.

    curriculum plot runs/demo-20261202-151742                # into RUN/plots
    curriculum plot runs/quick --out pictures/quick
    curriculum plot runs/experiment-experiment               # an experiment: arms.png, final.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

from curriculum.cli.output import console
from curriculum.errors import UserError

HELP = "draw a run or an experiment as PNG figures with an index.md (needs matplotlib)"
EXAMPLES = """examples:
  curriculum plot runs/quick
  curriculum plot runs/experiment-experiment --out pictures
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", metavar="RUN|EXPERIMENT", help="a run folder, or an experiment's folder")
    parser.add_argument("--out", help="folder for the figures (default: RUN/plots)")


def run(args: argparse.Namespace) -> int:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UserError("curriculum plot needs matplotlib: pip install 'curriculum[plot]'") from None
    from curriculum.experiment.plots import experiment_plot_data, is_experiment
    from curriculum.report import load_run
    from curriculum.report.plots import plot_data
    from curriculum.views.plots import write_experiment_plots, write_plots

    folder = Path(args.folder)
    out = Path(args.out) if args.out else folder / "plots"
    if is_experiment(folder):
        figures = write_experiment_plots(experiment_plot_data(folder), out)
    else:
        figures = write_plots(plot_data(load_run(folder)), out)
    for name, text in figures:
        console.print(f"[bold]{out / name}[/]: {text}", highlight=False)
    console.print(f"index: [bold]{out / 'index.md'}[/]")
    return 0
