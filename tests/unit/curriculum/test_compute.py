"""Compute accounting against hand arithmetic, and a real run's counts against its own batches."""

import json

import polars as pl
import pytest
from helpers import TINY

from curriculum.catalog import load_catalog
from curriculum.compute import Ledger, TaskLengths, plan_cost, training_flops
from curriculum.records import EvalRecord
from curriculum.run.loop import train
from curriculum.run.setup import load_tasks, make_scheduler
from curriculum.run.stream import Stream
from curriculum.signals.measurements import Measurements
from trainer.model import count_parameters


def test_training_flops_by_hand():
    # N = 1000: 6N(10 + 20) + 2N(5 + 7 + 0) = 180,000 + 24,000
    assert training_flops(1000, 10, 20, 5, 7, 0) == 204_000.0
    # the reference forward costs 2N per token: + 2 * 1000 * 20
    assert training_flops(1000, 10, 20, 5, 7, 20) == 244_000.0


def test_ledger_from_rows_and_probe_by_hand():
    names = ("compute/sft_tokens", "compute/rl_tokens", "compute/prefill_tokens", "compute/generated_tokens")
    rows = [dict(zip(names, (100, 0, 0, 0))), dict(zip(names, (40, 60, 24, 36)))]
    evals = [{"step": 0, "compute/eval_tokens": 500}, {"step": 2, "compute/eval_tokens": 300}]
    probe = {"sft_tokens": 10, "rl_tokens": 0, "prefill_tokens": 0, "generated_tokens": 0, "reference_tokens": 0}
    ledger = Ledger.from_rows(2, rows, evals, {**probe, "eval_tokens": 50})
    # sft 100 + 40 + 10 (probe) = 150, rl 60, prefill 24, generated 36
    assert (ledger.sft_tokens, ledger.rl_tokens, ledger.prefill_tokens, ledger.generated_tokens) == (150, 60, 24, 36)
    # training: 2 * (6 * (150 + 60) + 2 * (24 + 36)) = 2 * (1260 + 120) = 2760
    assert ledger.training_flops == 2760.0
    assert ledger.probe_flops == 2 * 6 * 10  # 120
    # eval: 2N * (500 + 300 + 50) = 4 * 850
    assert ledger.eval_flops == 3400.0
    assert ledger.totals()["training_flops"] == 2760.0 and ledger.steps == 2


def test_plan_cost_by_hand():
    lengths = {"a": TaskLengths(prompt=10, completion=6), "b": TaskLengths(prompt=4, completion=30)}
    # two steps: {a: 2 demonstrations}, then {a: 1 demonstration; a: 1 prompt, b: 2 prompts}
    cost = plan_cost({"a": (3, 1), "b": (0, 2)}, lengths, params=10, group_size=4, max_new_tokens=20)
    # SFT: 3 rows of a: 3 * (10 + 6) = 48
    # RL: a 1 prompt x 4 = 4 rollouts; b 2 x 4 = 8; prefill 4*10 + 8*4 = 72
    # expected generated: 4 * min(6, 20) + 8 * min(30, 20) = 24 + 160 = 184; upper: 12 * 20 = 240
    e, u = cost["expected"], cost["upper"]
    assert (e["sft_tokens"], e["prefill_tokens"], e["generated_tokens"], e["rl_tokens"]) == (48, 72, 184, 256)
    assert e["training_flops"] == 10 * (6 * (48 + 256) + 2 * (72 + 184))  # 10 * (1824 + 512) = 23,360
    assert u["generated_tokens"] == 240 and u["rl_tokens"] == 72 + 240


def _run(tmp_path, *overrides):
    catalog = load_catalog(TINY, ["evaluation.every=0", "training.checkpoint_every=0", *overrides])
    return train(catalog, catalog.model_dump(mode="json"), TINY.parent, tmp_path / "run"), catalog


def test_a_runs_counts_are_its_batches_tokens(tmp_path):
    """An SFT-only step's count is the prompt + completion tokens of the rows the stream gives it; run.json's
    totals are the sums of the columns, and its FLOPs follow the rule."""
    run, catalog = _run(tmp_path, "training.steps=3", "schedule.warmup_steps=0")
    steps = pl.read_parquet(run.root / "steps.parquet")
    info = json.loads((run.root / "run.json").read_text())
    compute = info["compute"]
    # the batches again, from a fresh stream and scheduler of the same catalog
    from trainer.model import load_model

    tasks = load_tasks(catalog, TINY.parent)
    model, fmt = load_model(catalog.model, catalog.seed)
    stream, scheduler = Stream(tasks, fmt, catalog.seed), make_scheduler(catalog, tasks)
    first = stream.batch(scheduler.decide(0, Measurements()))
    # without its warmup the tiny catalog's chord starts at mu 0.8, so step 0 trains SFT rows
    assert first.sft
    assert steps["compute/sft_tokens"][0] == sum(len(r.prompt_ids) + len(r.completion_ids) for r in first.sft)
    G = catalog.training.rollout.group_size
    assert steps["compute/prefill_tokens"][0] == G * sum(len(p.prompt_ids) for p in first.rl)
    for name in ("sft_tokens", "rl_tokens", "prefill_tokens", "generated_tokens"):
        assert compute[name] == steps[f"compute/{name}"].sum()
    assert compute["params"] == count_parameters(model)
    # trained response tokens are the generated ones when no group is dropped
    assert compute["rl_tokens"] == compute["prefill_tokens"] + compute["generated_tokens"]
    expected = compute["params"] * (
        6 * (compute["sft_tokens"] + compute["rl_tokens"])
        + 2 * (compute["prefill_tokens"] + compute["generated_tokens"])
    )
    assert compute["training_flops"] == pytest.approx(expected, rel=1e-12)
    evals = pl.read_parquet(run.root / "evals.parquet")
    assert compute["eval_tokens"] == evals["compute/eval_tokens"].sum() > 0


def test_a_compute_budget_ends_the_run_at_the_step_that_reaches_it(tmp_path):
    probe, _ = _run(tmp_path / "probe", "training.steps=4")
    flops = json.loads((probe.root / "run.json").read_text())["compute"]["training_flops"]
    # a budget of 1.5x what 4 steps cost, with steps=2: the run goes past its 2 planned steps
    run, _ = _run(tmp_path, "training.steps=2", f"training.compute_budget={1.5 * flops}")
    info = json.loads((run.root / "run.json").read_text())
    steps = pl.read_parquet(run.root / "steps.parquet")
    assert info["status"] == "finished" and info["steps"] == steps.height > 2
    params = info["compute"]["params"]
    kinds = ("sft_tokens", "rl_tokens", "prefill_tokens", "generated_tokens", "reference_tokens")
    per_step = [training_flops(params, *(r[f"compute/{k}"] for k in kinds)) for r in steps.iter_rows(named=True)]
    total = sum(per_step)
    assert total >= 1.5 * flops > total - per_step[-1]  # the last step crossed the budget, none before it
    assert info["compute"]["training_flops"] == pytest.approx(total)
    evals = pl.read_parquet(run.root / "evals.parquet")
    assert evals["step"].to_list()[-1] == steps.height  # the final evaluation is at the last step


def test_eval_record_row_carries_its_tokens():
    assert EvalRecord(4, {}, tokens=123).row() == {"step": 4, "compute/eval_tokens": 123}


def test_a_budget_with_cosine_decay_is_refused():
    from curriculum.catalog import CatalogInvalid

    with pytest.raises(CatalogInvalid, match="lr_decay: constant"):
        load_catalog(TINY, ["training.compute_budget=1e12", "training.lr_decay=cosine"])


def test_max_seq_len_cuts_demonstrations_and_says_so(tmp_path):
    """training.max_seq_len 14: every SFT row trains at most 14 tokens (prompt whole, completion cut at its end),
    the run's count is the sum of the cut rows, and the run and the plan say which task loses what."""
    from curriculum.run.display import Silent
    from curriculum.run.setup import plan_cost_of, plan_segments, truncation_notes
    from trainer.model import load_model
    from trainer.step import fit

    lines = []

    class Lines(Silent):
        def line(self, text: str) -> None:
            lines.append(text)

    catalog = load_catalog(TINY, ["evaluation.every=0", "training.checkpoint_every=0", "training.steps=1",
                                  "training.max_seq_len=14", "schedule.warmup_steps=0"])  # fmt: skip
    train(catalog, catalog.model_dump(mode="json"), TINY.parent, tmp_path / "run", display=Lines())
    steps = pl.read_parquet(tmp_path / "run" / "steps.parquet")
    tasks = load_tasks(catalog, TINY.parent)
    _, fmt = load_model(catalog.model, catalog.seed)
    first = Stream(tasks, fmt, catalog.seed).batch(make_scheduler(catalog, tasks).decide(0, Measurements()))
    full = sum(len(r.prompt_ids) + len(r.completion_ids) for r in first.sft)
    cut = sum(min(len(r.prompt_ids) + len(r.completion_ids), max(14, len(r.prompt_ids) + 1)) for r in first.sft)
    assert cut < full  # the limit bites on these rows
    assert steps["compute/sft_tokens"][0] == cut == sum(len(fit(r, 14).prompt_ids + fit(r, 14).completion_ids)
                                                        for r in first.sft)  # fmt: skip
    notes = truncation_notes(fmt, tasks, 14)
    assert notes and all(n in lines for n in notes)
    assert notes[0].startswith("task sort: ") and "longer than training.max_seq_len (14 tokens)" in notes[0]
    assert plan_cost_of(catalog, tasks, plan_segments(catalog, tasks)[0], TINY.parent)["truncated"] == notes
    assert truncation_notes(fmt, tasks, 10_000) == [] and truncation_notes(fmt, tasks, None) == []
