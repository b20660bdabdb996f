"""Typed records and their table rows: every column name comes from `curriculum.records`, absent parts
leave their columns out, and decisions and steps name a task's rows the same way."""

from __future__ import annotations

import pytest

from curriculum.records import (
    Decision,
    EvalRecord,
    RLLossStats,
    RolloutStats,
    StepRecord,
    TaskEval,
    TaskRollouts,
    eval_column,
    eval_tasks,
    rl_prompts_column,
    sft_rows_column,
)


def test_decision_defaults_keep_the_plain_behaviour():
    d = Decision(3, "rl", 0.25, {"a": 1}, {"a": 2, "b": 1})  # positional, as the fixed schedules build it
    assert (d.task_mu, d.gate_below, d.drop_zero_variance) == ({}, None, False)
    assert d.mu_for("a") == 0.25 and d.mu_for("b") == 0.25
    d = Decision(3, "rl", 0.25, {"a": 1}, {"a": 2, "b": 1}, task_mu={"a": 0.4})
    assert d.mu_for("a") == 0.4 and d.mu_for("b") == 0.25  # absent tasks use mu


def test_decision_row_names_rows_as_the_steps_table_does():
    d = Decision(3, "rl", 0.25, {"a": 1}, {"a": 2, "b": 1}, "phi", "why", {"a": 0.4}, 0.0, True, 2)
    row = d.row(["a", "b"])
    assert list(row) == [
        "step", "stage", "mu", "sft_weighting", "why",
        "sft/a/rows", "sft/b/rows", "rl/a/prompts", "rl/b/prompts", "mu/a", "mu/b",
        "gate_below", "drop_zero_variance", "restore_from",
    ]  # fmt: skip
    assert row["restore_from"] == 2
    assert (row["sft/b/rows"], row["rl/a/prompts"], row["mu/a"], row["mu/b"]) == (0, 2, 0.4, 0.25)
    assert sft_rows_column("a") == "sft/a/rows" and rl_prompts_column("b") == "rl/b/prompts"


def _step(**parts) -> StepRecord:
    base = dict(
        step=0, stage="s", mu=0.5, lr=1e-3, loss=1.5, sft_loss=2.0, rl_loss=1.0, grad_norm=0.5,
        sft_tokens=10, rl_tokens=20, sft_rows={"a": 2}, rl_prompts={"a": 1, "b": 1}, gated=None,
        rollouts=None, rl=None, step_seconds=0.2, tokens_per_second=150.0,
    )  # fmt: skip
    return StepRecord(**{**base, **parts})


def test_step_row_leaves_absent_parts_out():
    sft_only = _step(rl_prompts={}, rl_loss=None).row()
    assert not any(k.startswith("rl/") for k in sft_only) and "gate/prompts" not in sft_only
    assert sft_only["train/rl_loss"] is None and sft_only["sft/a/rows"] == 2
    stats = RolloutStats(0.5, 4.0, 0.25, {"a": TaskRollouts(1.0, 0.5, 4), "b": TaskRollouts(0.0, 0.0, 4)})
    row = _step(gated=1, rollouts=stats, rl=RLLossStats(0.1, 0.01)).row()
    assert row["gate/prompts"] == 1 and row["rl/b/rollouts"] == 4 and row["rl/clip_frac"] == 0.1
    assert "rl/kl" not in row and "rl/planning_frac" not in row and "rl/dropped_groups" not in row
    order = list(row)
    assert (
        order.index("sft/a/rows") < order.index("gate/prompts") < order.index("rl/a/prompts") < order.index("rl/reward")
    )
    assert order[-7:-5] == ["perf/step_seconds", "perf/tokens_per_second"]
    assert order[-5:] == [
        "compute/sft_tokens",
        "compute/rl_tokens",
        "compute/prefill_tokens",
        "compute/generated_tokens",
        "compute/reference_tokens",
    ]
    full = _step(rollouts=RolloutStats(0.5, 4.0, 0.25, {}, 0.3, 2), rl=RLLossStats(0.1, 0.01, 0.002)).row()
    assert (full["rl/planning_frac"], full["rl/dropped_groups"], full["rl/kl"]) == (0.3, 2, 0.002)


def test_eval_row_writes_measured_metrics_only():
    plain = TaskEval(0.5, 0.25, 1.2, 0.75, 4.0, None, kl_base=0.01)
    planned = TaskEval(1.0, 1.0, 0.3, 0.25, 3.0, 0.5, kl_k3=0.02, planning=True, entropy_plan=None, entropy_exec=0.2)
    row = EvalRecord(50, {"sort": plain, "word": planned}).row()
    assert row["step"] == 50 and row[eval_column("sort", "score")] == 0.5 and row["eval/sort/distinct2"] is None
    assert "eval/sort/kl_k3" not in row and "eval/sort/entropy_plan" not in row
    assert row["eval/word/entropy_plan"] is None and row["eval/word/entropy_exec"] == pytest.approx(0.2)
    assert "eval/word/kl_base" not in row and row["eval/word/kl_k3"] == 0.02
    assert eval_tasks(row) == ["sort", "word"]
