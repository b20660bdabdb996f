"""The demo catalog end to end (about 3 minutes on 2 cores; `python -m pytest -m slow`): the SFT shift
and the readaptation the demo exists to show, measured on held-out greedy scores."""

import time
from pathlib import Path

import polars as pl
import pytest

from curriculum.cli import main

DEMO = Path(__file__).parent.parent / "catalogs" / "demo.yaml"
STRUCTURED = ("addition", "sort", "reverse", "count")


@pytest.mark.slow
def test_demo_shows_the_shift_and_the_readaptation(tmp_path):
    started = time.time()
    assert main(["train", str(DEMO), "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    assert time.time() - started < 600  # the README promises minutes, not tens of minutes
    evals = pl.read_parquet(tmp_path / "run" / "evals.parquet")

    def mean(step: int, metric: str = "score") -> float:
        row = evals.filter(pl.col("step") == step).row(0, named=True)
        return sum(row[f"eval/{t}/{metric}"] for t in STRUCTURED) / len(STRUCTURED)

    start, shifted, end = mean(0), mean(50), mean(300)
    assert shifted < start - 0.1, (start, shifted)  # expert SFT at mu ~0.9 pulls the policy off its base
    assert end > shifted + 0.1 and end >= start - 0.05, (start, shifted, end)  # RL at the valley brings it back
    assert mean(300, "sampled") > mean(0, "sampled")  # and the sampled policy ends above the base's
