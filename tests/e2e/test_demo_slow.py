"""The demo catalog end to end (about 3 minutes on 2 cores; `python -m pytest -m slow`): the SFT shift,
the readaptation and the rise above the base that the demo exists to show, on held-out greedy scores."""

import time

import polars as pl
import pytest
from helpers import DEMO

from curriculum.cli import main

STRUCTURED = ("addition", "sort", "reverse", "count")
# Tasks the base already answers well tersely: expert SFT replaces a good habit, so they show the shift.
HABITUAL = ("sort", "reverse")


@pytest.mark.slow
def test_demo_shows_the_shift_and_the_readaptation(tmp_path):
    started = time.time()
    assert main(["train", str(DEMO), "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    assert time.time() - started < 600  # the README promises minutes, not tens of minutes
    evals = pl.read_parquet(tmp_path / "run" / "evals.parquet")

    def mean(step: int, metric: str = "score", tasks: tuple[str, ...] = STRUCTURED) -> float:
        row = evals.filter(pl.col("step") == step).row(0, named=True)
        return sum(row[f"eval/{t}/{metric}"] for t in tasks) / len(tasks)

    start, shifted, end = mean(0, tasks=HABITUAL), mean(50, tasks=HABITUAL), mean(300, tasks=HABITUAL)
    assert shifted < start - 0.1, (start, shifted)  # expert SFT at mu ~0.9 pulls the policy off its habit
    assert end > shifted + 0.1 and end >= start - 0.05, (start, shifted, end)  # and it readapts
    assert mean(300) > mean(0) + 0.05, (mean(0), mean(300))  # the structured tasks end above the base
    assert mean(300, "sampled") > mean(0, "sampled")  # greedy and sampled alike
