"""End to end: the real `curriculum train` entry point on the tiny model for a few steps.

Checks the run folder (resolved catalog, plan, decisions, steps, evals, checkpoints), that executed
decisions follow the plan and each step's batch matches its decision, that the same catalog and seed
give identical records, and that the sequential schedule runs too.
"""

from pathlib import Path

import polars as pl
import pytest
import yaml
from helpers import TINY

from curriculum.cli import main
from curriculum.run.rundir import RunDir
from trainer.checkpoint import checkpoint_dirs
from trainer.model import load_pretrained


def _train(out: Path, *overrides: str) -> RunDir:
    assert main(["train", str(TINY), "--out", str(out), "--no-progress", *overrides]) == 0
    return RunDir(out)


@pytest.fixture(scope="module")
def chord_run(tmp_path_factory) -> RunDir:
    return _train(tmp_path_factory.mktemp("chord") / "run")


def test_run_folder_has_every_artifact(chord_run):
    root = chord_run.root
    for name in ("catalog.yaml", "run.json", "plan.parquet", "decisions.parquet", "steps.parquet", "evals.parquet"):
        assert (root / name).is_file(), name
    resolved = yaml.safe_load((root / "catalog.yaml").read_text())
    assert resolved["training"]["steps"] == 6 and resolved["seed"] == 3
    assert resolved["training"]["grpo"]["clip_low"] == 0.2  # defaults are written out
    assert chord_run.read_info()["status"] == "finished"
    # checkpoints at 3 and 6 (every 3 and at the end), both loadable as Hugging Face models
    assert [p.name for p in checkpoint_dirs(chord_run.checkpoints)] == ["step-000003", "step-000006"]
    model, tokenizer = load_pretrained(chord_run.checkpoints / "step-000006" / "model")
    assert tokenizer.decode(tokenizer("sort(cab)=").input_ids) == "sort(cab)="


def test_decisions_follow_the_plan_and_batches_match_decisions(chord_run):
    plan = pl.read_parquet(chord_run.table("plan"))
    decisions = pl.read_parquet(chord_run.table("decisions"))
    steps = pl.read_parquet(chord_run.table("steps"))
    assert decisions["step"].to_list() == list(range(6))
    # chord, W=1, D=3, peak 0.8, valley 0.1: mu = 0, 0.8, 0.625, 0.275, 0.1, 0.1
    #   step 2: t=1 of 3: 0.1 + 0.7 * (1 + cos(pi/3)) / 2 = 0.1 + 0.7 * 0.75 = 0.625
    #   step 3: t=2 of 3: 0.1 + 0.7 * (1 + cos(2pi/3)) / 2 = 0.1 + 0.7 * 0.25 = 0.275
    assert decisions["mu"].to_list() == pytest.approx([0.0, 0.8, 0.625, 0.275, 0.1, 0.1])
    assert decisions.equals(plan)  # non-adaptive: executed == planned
    assert steps["sched/mu"].to_list() == decisions["mu"].to_list()
    for d, s in zip(decisions.iter_rows(named=True), steps.iter_rows(named=True)):
        for task in ("sort", "word"):
            # one name, one meaning: the rows a decision asked for, the rows its step trained
            assert (s.get(f"sft/{task}/rows") or 0) == d[f"sft/{task}/rows"]
            assert (s.get(f"rl/{task}/prompts") or 0) == d[f"rl/{task}/prompts"]
        assert (s["train/sft_loss"] is None) == (d["sft/sort/rows"] + d["sft/word/rows"] == 0)
        assert (s["train/rl_loss"] is None) == (d["rl/sort/prompts"] + d["rl/word/prompts"] == 0)
    # step 0 has mu = 0: RL only; weights 1 : 0.5 split 3 prompts 2 : 1
    first = decisions.row(0, named=True)
    assert (first["sft/sort/rows"], first["sft/word/rows"], first["rl/sort/prompts"], first["rl/word/prompts"]) == (
        0,
        0,
        2,
        1,
    )


def test_evals_at_start_every_n_stage_ends_and_end(chord_run):
    evals = pl.read_parquet(chord_run.table("evals"))
    # every 3 steps, at the end, and at each stage end: warmup is step 0, decay steps 1-3, valley 4-5,
    # so stages end after 1 and after 4 steps
    assert evals["step"].to_list() == [0, 1, 3, 4, 6]
    for task in ("sort", "word"):
        scores = evals[f"eval/{task}/score"].to_list()
        assert all(0.0 <= s <= 1.0 for s in scores)
        assert all(e > 0 for e in evals[f"eval/{task}/entropy"].to_list())
        kl = evals[f"eval/{task}/kl_base"].to_list()
        assert kl[0] == 0.0 and kl[-1] > 0.0  # the starting model is the base; training moves away from it
        for metric in ("sampled", "unique"):
            assert all(0.0 <= v <= 1.0 for v in evals[f"eval/{task}/{metric}"].to_list())


def test_same_catalog_and_seed_give_identical_records(chord_run, tmp_path):
    again = _train(tmp_path / "again")
    for table in ("decisions", "evals"):
        assert pl.read_parquet(again.table(table)).equals(pl.read_parquet(chord_run.table(table))), table
    steps_a = pl.read_parquet(chord_run.table("steps")).drop(pl.selectors.starts_with("perf/"))
    steps_b = pl.read_parquet(again.table("steps")).drop(pl.selectors.starts_with("perf/"))
    assert steps_a.equals(steps_b)
    other = _train(tmp_path / "other_seed", "seed=4")
    assert not pl.read_parquet(other.table("steps"))["train/loss"].equals(steps_a["train/loss"])


def test_sequential_schedule_runs_sft_then_rl(tmp_path, capsys):
    run = _train(
        tmp_path / "seq",
        "schedule.kind=sequential",
        "schedule.sft_steps=2",
        "training.steps=4",
        "training.checkpoint_every=0",
        "evaluation.every=0",
    )
    decisions = pl.read_parquet(run.table("decisions"))
    steps = pl.read_parquet(run.table("steps"))
    assert decisions["stage"].to_list() == ["sft", "sft", "rl", "rl"]
    assert decisions["mu"].to_list() == [1.0, 1.0, 0.0, 0.0]
    assert steps["train/rl_loss"].is_null().to_list() == [True, True, False, False]
    assert steps["train/sft_loss"].is_null().to_list() == [False, False, True, True]
    assert [p.name for p in checkpoint_dirs(run.checkpoints)] == ["step-000004"]
    # the summary at the end: first and last evaluation, as evals.parquet holds them
    out = capsys.readouterr().out
    evals = pl.read_parquet(run.table("evals"))
    scores = evals["eval/sort/score"].to_list()  # steps 0, 2 (the SFT stage ends), 4
    first, last = scores[0], scores[-1]
    assert "held-out evaluation: step 0 -> 4" in out and f"{first:.3f} -> {last:.3f}" in out
    assert f"run folder: {run.root}" in out


def test_train_refuses_a_non_empty_run_folder(chord_run, capsys):
    assert main(["train", str(TINY), "--out", str(chord_run.root), "--no-progress"]) == 2
    assert "not empty" in capsys.readouterr().err


@pytest.mark.parametrize(
    "schedule",
    [
        {"kind": "reward_adaptive", "tau": 0.6, "window": 2},
        {"kind": "phase_aware", "decay_steps": 2},
        {"kind": "entropy_guard", "mu": 0.2},
        {"kind": "bandit", "drop_zero_variance": True},
        {"kind": "gate", "gate_below": 0.0},
    ],
    ids=lambda s: s["kind"],
)
def test_adaptive_schedulers_drive_the_real_loop(tmp_path, schedule):
    """Each adaptive policy runs end to end on the tiny model: every step gets the rows its decision
    asked for, the step's mu is the decision's (or, for gate, mu + (1 - mu) * k / n), and a decision's
    per-task mu columns are logged."""
    import json

    spec = {"sft_batch": 3, "rl_batch": 3, **schedule}
    # gate trains failed prompts: at temperature 3 the tiny model fails some groups even on sort
    hot = ["training.rollout.temperature=3"] if schedule["kind"] == "gate" else []
    run = _train(
        tmp_path / "run", f"schedule={json.dumps(spec)}", "evaluation.every=2", "evaluation.kl_samples=0", *hot
    )
    decisions = pl.read_parquet(run.table("decisions"))
    steps = pl.read_parquet(run.table("steps"))
    assert len(decisions) == len(steps) == 6 and all(decisions["why"].to_list())
    for d, s in zip(decisions.iter_rows(named=True), steps.iter_rows(named=True)):
        assert d["rl/sort/prompts"] + d["rl/word/prompts"] == 3  # every adaptive policy keeps RL on in these settings
        for task in ("sort", "word"):
            # one name, one meaning: the rows a decision asked for, the rows its step trained
            assert (s.get(f"sft/{task}/rows") or 0) == d[f"sft/{task}/rows"]
            assert (s.get(f"rl/{task}/prompts") or 0) == d[f"rl/{task}/prompts"]
            assert 0.0 <= d[f"mu/{task}"] <= 1.0
        if schedule["kind"] == "gate":
            k = s["gate/prompts"]
            assert s["sched/mu"] == pytest.approx(d["mu"] + (1 - d["mu"]) * k / 3)
        else:
            assert s["sched/mu"] == d["mu"]
    if schedule["kind"] == "gate":  # some prompt failed on both of its rollouts and was trained as SFT
        assert sum(steps["gate/prompts"].to_list()) > 0 and any(v is not None for v in steps["train/sft_loss"])
    if schedule["kind"] == "bandit":
        assert decisions["drop_zero_variance"].to_list() == [True] * 6
        assert "rl/sort/abs_adv" in steps.columns
