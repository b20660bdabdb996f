"""`curriculum plot`: the pictures' data is the run's (mix totals are the decisions' sums, executed mu is each
step's, curves are the eval columns), every figure is written as a PNG of the drawn size, and index.md holds
the first -> last score of each task."""

import polars as pl
import pytest
from helpers import train_tiny

from curriculum.cli import main
from curriculum.report import load_run
from curriculum.report.plots import plot_data


@pytest.fixture(scope="module")
def run_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("plots") / "run"
    train_tiny(root, "training.steps=6", "evaluation.every=3")
    return root


def test_plot_data_is_the_runs_own(run_root):
    data = plot_data(load_run(run_root))
    decisions = pl.read_parquet(run_root / "decisions.parquet")
    evals = pl.read_parquet(run_root / "evals.parquet")
    for task in ("sort", "word"):
        assert data["mix"]["actual"][task] == {
            "sft": int(decisions[f"sft/{task}/rows"].sum()),
            "rl": int(decisions[f"rl/{task}/prompts"].sum()),
        }
        assert data["curves"][task]["score"] == list(
            zip(evals["step"].to_list(), evals[f"eval/{task}/score"].to_list())
        )
    assert data["mix"]["planned"] == data["mix"]["actual"]  # chord follows its plan row for row
    assert [m for _, m in data["mu"]["executed"]] == decisions["mu"].to_list()
    assert len(data["mu"]["planned"]) == 6


def test_plot_writes_every_figure_and_an_index(run_root, tmp_path, capsys):
    out = tmp_path / "pictures"
    assert main(["plot", str(run_root), "--out", str(out)]) == 0
    names = {"scores.png", "entropy.png", "kl.png", "mu.png", "accuracy.png", "mix.png"}
    assert names <= {p.name for p in out.iterdir()}
    for name in names:
        head = (out / name).read_bytes()[:24]
        assert head[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
        assert width >= 400 and height >= 200, name
    index = (out / "index.md").read_text()
    evals = pl.read_parquet(run_root / "evals.parquet")
    first, last = evals["eval/sort/score"][0], evals["eval/sort/score"][-1]
    assert f"| sort | structured | {first:.3f} -> {last:.3f} |" in index
    assert all(f"![{name}]({name})" in index for name in names)


def test_plot_of_a_folder_that_is_not_a_run_is_a_clear_error(tmp_path, capsys):
    assert main(["plot", str(tmp_path)]) == 2
    assert "is not a run folder" in capsys.readouterr().err
