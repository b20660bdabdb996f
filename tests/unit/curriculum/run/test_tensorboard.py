"""`curriculum train --tensorboard`: the event files hold every step's and eval's numbers under the tables'
column names at the row's step, read back with TensorBoard's own reader and compared with the parquet tables."""

import polars as pl
import pytest
from helpers import TINY

from curriculum.cli import main


def test_tensorboard_scalars_are_the_tables_numbers(tmp_path, capsys):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    args = ["train", str(TINY), "--out", str(out), "--no-progress", "--tensorboard", "training.steps=4"]
    assert main([*args, "evaluation.every=2"]) == 0
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    steps = pl.read_parquet(out / "steps.parquet")
    evals = pl.read_parquet(out / "evals.parquet")
    for name in ("train/loss", "sched/mu", "rl/reward"):
        logged = [(e.step, e.value) for e in events.Scalars(name)]
        table = [(s, v) for s, v in zip(steps["step"], steps[name]) if v is not None]
        assert [s for s, _ in logged] == [s for s, _ in table]
        assert [v for _, v in logged] == pytest.approx([v for _, v in table], rel=1e-6)  # float32 in the events
    logged = [(e.step, e.value) for e in events.Scalars("eval/sort/score")]
    assert logged == [(s, pytest.approx(v, rel=1e-6)) for s, v in zip(evals["step"], evals["eval/sort/score"])]


def test_a_resume_does_not_log_a_step_twice(tmp_path, capsys):
    """A run killed after its step-3 checkpoint had logged steps 3-5 already; resumed from step 3 (the step-6
    checkpoint removed to stand for the kill), TensorBoard's reader shows each step once, the resumed values."""
    pytest.importorskip("tensorboard")
    import shutil

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    args = ["--no-progress", "--tensorboard", "training.steps=6", "training.checkpoint_every=3", "evaluation.every=0"]
    assert main(["train", str(TINY), "--out", str(out), *args]) == 0
    shutil.rmtree(out / "checkpoints" / "step-000006")
    assert main(["train", "--resume", str(out), "--no-progress", "--tensorboard"]) == 0
    capsys.readouterr()
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    logged = [(e.step, e.value) for e in events.Scalars("train/loss")]
    steps = pl.read_parquet(out / "steps.parquet")
    assert [s for s, _ in logged] == list(range(6))  # once each
    assert [v for _, v in logged] == pytest.approx(steps["train/loss"].to_list(), rel=1e-6)
