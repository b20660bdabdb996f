"""What `curriculum train` shows: outside a terminal a plain line every N steps with the step's own figures
(checked against the run's tables), every evaluation's scores; --quiet keeps them out; on a terminal the
panel under the bar holds the last step's reward and the last evaluation of each task."""

from pathlib import Path

import polars as pl
from helpers import TINY, train_tiny
from rich.console import Console

from curriculum.views.train import LiveDisplay


def _run(tmp_path: Path, display: LiveDisplay) -> tuple[pl.DataFrame, pl.DataFrame]:
    train_tiny(tmp_path / "run", "training.steps=6", "evaluation.every=3", display=display)
    return pl.read_parquet(tmp_path / "run" / "steps.parquet"), pl.read_parquet(tmp_path / "run" / "evals.parquet")


def test_a_log_gets_a_line_every_n_steps_with_that_steps_figures(tmp_path):
    console = Console(record=True, force_terminal=False, width=300)
    steps, evals = _run(tmp_path, LiveDisplay(console, every=2))
    lines = console.export_text().splitlines()
    step_lines = [line for line in lines if line.startswith("step ")]
    assert [line.split()[1] for line in step_lines] == ["2/6", "4/6", "6/6"]
    for line in step_lines:
        row = steps.row(int(line.split()[1].split("/")[0]) - 1, named=True)
        sft = "-" if row["train/sft_loss"] is None else f"{row['train/sft_loss']:.3f}"
        assert f"loss {row['train/loss']:.3f} (sft {sft}," in line
        assert f"mu {row['sched/mu']:.2f}" in line and f"  {row['stage']}  " in line
    eval_lines = [line for line in lines if line.startswith("eval @")]
    assert [line.split()[2] for line in eval_lines] == [str(s) for s in evals["step"]]
    last = evals.row(len(evals) - 1, named=True)
    assert f"sort {last['eval/sort/score']:.2f}/{last['eval/sort/sampled']:.2f}" in eval_lines[-1]


def test_quiet_shows_no_step_or_eval_lines(tmp_path):
    console = Console(record=True, force_terminal=False, width=300)
    _run(tmp_path, LiveDisplay(console, every=1, quiet=True))
    text = console.export_text()
    assert "step 1/6" not in text and "eval @" not in text


def test_the_terminal_panel_holds_the_last_reward_and_eval_of_each_task(tmp_path):
    display = LiveDisplay(Console(record=True, force_terminal=True, width=120))
    steps, evals = _run(tmp_path, display)
    panel = Console(record=True, width=120)
    panel.print(display._panel())
    text = panel.export_text()
    last = evals.row(len(evals) - 1, named=True)
    from curriculum.report import load_run, run_report

    phases = {row["task"]: row["labels"][-1] for row in run_report(load_run(tmp_path / "run"))["phases"]["tasks"]}
    for task in ("sort", "word"):
        cells = next(line for line in text.splitlines() if line.strip().startswith(task)).split()
        assert cells[2:4] == [f"{last[f'eval/{task}/score']:.2f}", f"{last[f'eval/{task}/sampled']:.2f}"]
        assert cells[4] == phases[task]  # the report's phase of the same curve, from the run's tables
        rewards = steps[f"rl/{task}/reward"].drop_nulls()
        assert cells[1] == f"{rewards[-1]:.2f}"
    assert f"step 6/6  stage {steps['stage'][-1]}" in text


def test_log_every_must_be_positive(capsys):
    from curriculum.cli import main

    assert main(["train", str(TINY), "--log-every", "0"]) == 2
    assert "--log-every must be at least 1" in capsys.readouterr().err
