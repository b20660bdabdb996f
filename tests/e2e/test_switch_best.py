"""`sequential` with `switch: best`, end to end on the tiny catalog: SFT stops once an evaluation fails to beat
the best mean held-out score (patience 1), RL starts from the weights kept at that best evaluation with a fresh
optimizer, and a run stopped between the best evaluation and the switch resumes exactly.

With these settings (lr 1e-3, evaluation every 2 steps) the tiny model's mean score after step 0 is best at
step 2 and falls at step 4 (on the machine this was written on: 2 -> 0.917, 4 -> 0.333), so the switch is
the decision of step 4 with restore_from 2; the tests read the steps from the run instead of assuming them."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import torch
from helpers import TINY, run_tables
from safetensors.torch import load_file

from curriculum.catalog import load_catalog
from curriculum.records import RL_LOSS, SFT_LOSS
from curriculum.run.loop import train
from trainer.checkpoint import checkpoint_dirs
from trainer.model import load_model

PATIENCE = 1
SCHEDULE = (
    'schedule={"kind": "sequential", "sft_steps": 8, "switch": "best", "patience": %d, "sft_batch": 3, "rl_batch": 3}'
    % PATIENCE
)
# a checkpoint after every step, all kept: the weights and optimizer around the switch can be read back
SETTINGS = [
    SCHEDULE,
    "training.steps=10",
    "training.lr=1e-3",
    "evaluation.every=2",
    "training.checkpoint_every=1",
    "training.keep_checkpoints=20",
]


def _train(out: Path, stop_at: int | None = None, resume: bool = False) -> None:
    catalog = load_catalog(TINY, SETTINGS)
    train(catalog, catalog.model_dump(mode="json"), TINY.parent, out, resume=resume, stop_at=stop_at)


def _ckpt(root: Path, step: int) -> Path:
    return root / "checkpoints" / f"step-{step:06d}"


def _weights(root: Path, step: int) -> dict[str, torch.Tensor]:
    return load_file(_ckpt(root, step) / "model" / "model.safetensors")


def _kept(root: Path, step: int) -> dict:
    return torch.load(_ckpt(root, step) / "state.pt", weights_only=False)["extra"]["kept"]


def _switch(root: Path) -> tuple[int, int]:
    """(step of the switch decision, its restore_from): the one decision with a restore_from."""
    rows = pl.read_parquet(root / "decisions.parquet").filter(pl.col("restore_from").is_not_null())
    assert rows.height == 1, rows
    return int(rows["step"][0]), int(rows["restore_from"][0])


def _mean_scores(root: Path) -> dict[int, float]:
    evals = pl.read_parquet(root / "evals.parquet")
    cols = [c for c in evals.columns if c.startswith("eval/") and c.endswith("/score")]
    assert len(cols) == 2  # sort and word
    return {int(r["step"]): sum(r[c] for c in cols) / len(cols) for r in evals.iter_rows(named=True)}


@pytest.fixture(scope="module")
def full(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("best") / "run"
    _train(out)
    return out


def test_sft_stops_after_patience_evaluations_and_rl_starts_from_the_best_one(full):
    switch, best = _switch(full)
    scores = _mean_scores(full)
    assert 0 < best < switch < 8, (best, switch, scores)  # early: before sft_steps, from an SFT evaluation
    assert best in scores  # an evaluation step
    # best = the highest mean score of the SFT evaluations (step 0 excluded), the first of equals
    sft_evals = {s: v for s, v in scores.items() if 0 < s <= switch}
    assert best == min(s for s, v in sft_evals.items() if v == max(sft_evals.values())), sft_evals
    # exactly `patience` evaluations came after it, the last at the switch step
    after_best = [s for s in sft_evals if s > best]
    assert len(after_best) == PATIENCE and after_best[-1] == switch, after_best
    decisions = pl.read_parquet(full / "decisions.parquet")
    assert decisions["step"].to_list() == list(range(10))
    assert decisions["stage"].to_list() == ["sft"] * switch + ["rl"] * (10 - switch)
    assert decisions["mu"].to_list() == [1.0] * switch + [0.0] * (10 - switch)
    why = decisions["why"][switch]
    assert (
        f"weights of step {best}" in why
        and f"{PATIENCE} evaluation{'s' if PATIENCE != 1 else ''} without a new best" in why
    )
    assert set(decisions["why"][switch + 1 :].to_list()) == {f"RL stage since step {switch}"}
    steps = pl.read_parquet(full / "steps.parquet")
    assert steps[SFT_LOSS][:switch].is_not_null().all() and steps[SFT_LOSS][switch:].is_null().all()
    assert steps[RL_LOSS][:switch].is_null().all() and steps[RL_LOSS][switch:].is_not_null().all()


def test_the_best_evaluations_weights_are_kept_until_the_switch(full):
    switch, best = _switch(full)
    assert [p.name for p in checkpoint_dirs(full / "checkpoints")] == [f"step-{s:06d}" for s in range(1, 11)]
    at_best = _weights(full, best)
    for step in range(best, switch + 1):  # every checkpoint from the best evaluation to the switch
        kept = _kept(full, step)
        assert kept["step"] == best
        assert at_best.keys() <= kept["weights"].keys()
        for key, value in at_best.items():
            assert torch.equal(kept["weights"][key], value), (step, key)
    earlier = _kept(full, best - 1)["step"]  # before it: nothing, or an earlier evaluation that was the best then
    assert earlier is None or (0 < earlier < best and earlier % 2 == 0)
    # SFT went on after the best: the weights at the switch are not the kept ones (the restore has work to do)
    before_switch = _weights(full, switch)
    assert any(not torch.equal(before_switch[k], at_best[k]) for k in at_best)
    for step in range(switch + 1, 11):  # after the switch: the step stays, the weights are let go
        assert _kept(full, step) == {"step": best, "weights": None}


def test_the_switch_step_trains_the_kept_weights_with_a_fresh_optimizer(full):
    """After the switch step the optimizer has taken exactly one step (Adam `step` 1, not switch + 1), and the
    weights are the best evaluation's weights moved by that single AdamW update, recomputed from the saved
    moments: w = w_best - lr / (1 - b1) * m / (sqrt(v / (1 - b2)) + eps) (weight decay 0)."""
    switch, best = _switch(full)
    catalog = load_catalog(TINY, SETTINGS)
    model, _ = load_model(catalog.model, catalog.seed, TINY.parent)
    names = [n for n, _ in model.named_parameters()]
    before = torch.load(_ckpt(full, switch) / "optimizer.pt", weights_only=False)
    after = torch.load(_ckpt(full, switch + 1) / "optimizer.pt", weights_only=False)
    assert {float(s["step"]) for s in before["state"].values()} == {float(switch)}  # SFT's optimizer
    assert {float(s["step"]) for s in after["state"].values()} == {1.0}  # a fresh one, one step old
    [group] = after["param_groups"]
    assert len(group["params"]) == len(names)
    lr, (b1, b2), eps = group["lr"], group["betas"], group["eps"]
    assert (lr, group["weight_decay"]) == (1e-3, 0.0)
    w_best, w_before, w_after = _weights(full, best), _weights(full, switch), _weights(full, switch + 1)
    checked, moved = 0, 0
    for index, name in zip(group["params"], names):
        if index not in after["state"]:  # no gradient at the switch step: untouched
            assert torch.equal(w_after[name], w_best[name]), name
            continue
        m, v = after["state"][index]["exp_avg"], after["state"][index]["exp_avg_sq"]
        expected = w_best[name] - lr / (1 - b1) * m / ((v / (1 - b2)).sqrt() + eps)
        torch.testing.assert_close(w_after[name], expected, rtol=0, atol=1e-6, msg=name)
        checked += 1
        # from the weights before the switch instead of the kept ones the same update would be far off
        moved += int((w_before[name] - w_best[name]).abs().max() > 1e-4)
    assert checked > 0 and moved > 0, (checked, moved)


@pytest.mark.parametrize("where", ["after_best", "at_switch"])
def test_a_run_stopped_between_the_best_evaluation_and_the_switch_resumes_exactly(full, tmp_path, where):
    switch, best = _switch(full)
    stop = best + 1 if where == "after_best" else switch  # after the best evaluation, not after the switch
    out = tmp_path / "run"
    _train(out, stop_at=stop)
    assert pl.read_parquet(out / "decisions.parquet")["restore_from"].is_null().all()  # not switched yet
    assert _kept(out, stop)["step"] == best  # the kept weights travel in the checkpoint
    _train(out, resume=True)
    assert _switch(out) == (switch, best)
    final_a, final_b = _weights(full, 10), _weights(out, 10)
    assert final_a.keys() == final_b.keys()
    for key in final_a:
        assert torch.equal(final_a[key], final_b[key]), key  # bit-identical
    ra, rb = run_tables(full), run_tables(out)
    for name in ra:
        assert ra[name].equals(rb[name]), name
