"""Task stages end to end on the tiny model: the bwt_order probe measures transfer from the start, the run
follows the order picked from it and evaluates at every stage end."""

import json

import polars as pl
import pytest
from helpers import TINY

from curriculum.catalog import load_catalog
from curriculum.run.loop import train
from curriculum.signals.ordering import best_order


def test_bwt_order_probe_end_to_end(tmp_path):
    """The probe trains 2 steps on each task from the start, evaluates both; D = after - base; the run
    follows the order best_order picks from that D, evaluates at each stage end, and reports compute."""
    catalog = load_catalog(TINY, ['schedule.order={"kind": "bwt_order", "probe_steps": 2}', "evaluation.every=0"])
    run = train(catalog, catalog.model_dump(mode="json"), TINY.parent, tmp_path / "run")
    probe = json.loads((run.root / "order.json").read_text())
    for j in ("sort", "word"):
        for i in ("sort", "word"):
            assert probe["D"][j][i] == pytest.approx(probe["after"][j][i] - probe["base"][i])
    again = best_order(["sort", "word"], {"sort": "structured", "word": "creative"}, {}, probe["base"], probe["D"])
    assert probe["order"] == again.order and probe["method"] == "exhaustive"
    assert probe["probe_compute_steps"] == 4 and run.read_info()["probe_compute_steps"] == 4
    assert probe["probe_mix"] == "chord"  # the schedule's own mix (no probe_mu)
    decisions = pl.read_parquet(run.table("decisions"))
    assert decisions["stage"].to_list() == [probe["order"][0]] * 3 + [probe["order"][1]] * 3
    assert pl.read_parquet(run.table("evals"))["step"].to_list() == [0, 3, 6]  # start, stage end, end
    # the probe restores the starting weights: step-0 scores equal the probe's base scores (same model;
    # both greedy)
    first = pl.read_parquet(run.table("evals")).row(0, named=True)
    assert first["eval/sort/score"] == probe["base"]["sort"] and first["eval/word/score"] == probe["base"]["word"]
