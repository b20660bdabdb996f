"""Measurements are folded from the fields of typed records: per-task rewards, |advantage| with rollouts,
the SFT loss, eval scores and entropy; the fold is the same live or all at once, and survives a
state round trip."""

from __future__ import annotations

import math

from curriculum.records import EvalRecord, RolloutStats, StepRecord, TaskEval, TaskRollouts
from curriculum.signals.measurements import Measurements


def step(n: int, sft_loss: float | None = None, tasks: dict[str, TaskRollouts] | None = None) -> StepRecord:
    rollouts = None if tasks is None else RolloutStats(reward=0.5, response_len=3.0, zero_var_frac=0.0, tasks=tasks)
    return StepRecord(
        step=n,
        stage="s",
        mu=0.5,
        lr=1e-3,
        loss=1.0,
        sft_loss=sft_loss,
        rl_loss=None,
        grad_norm=1.0,
        sft_tokens=0,
        rl_tokens=0,
        sft_rows={},
        rl_prompts={},
        gated=None,
        rollouts=rollouts,
        rl=None,
        step_seconds=0.1,
        tokens_per_second=10.0,
    )


def evaluation(n: int, **tasks: tuple[float, float]) -> EvalRecord:
    """tasks: id -> (score, entropy)."""
    return EvalRecord(n, {t: TaskEval(s, s, e, 1.0, 3.0, None) for t, (s, e) in tasks.items()})


def test_step_fold_reads_rewards_advantages_and_sft_loss():
    m = Measurements()
    m.add_step(
        step(4, 1.25, {"a": TaskRollouts(0.5, 0.3, 8), "c": TaskRollouts(float("nan"), 0.2, 0)})
    )  # c: a NaN reward and no rollouts add nothing
    m.add_step(step(5, None, {"a": TaskRollouts(0.25, 0.1, 4)}))  # no SFT rows: no SFT loss
    m.add_step(step(6, math.nan))  # no RL prompts: no rollouts
    assert m.rewards == {"a": [(4, 0.5), (5, 0.25)]}
    assert m.adv == {"a": [(4, 0.3, 8), (5, 0.1, 4)]}
    assert m.sft_loss == [(4, 1.25)]  # None and NaN add nothing
    assert m.step == 7


def fold(steps, evals) -> Measurements:
    m = Measurements()
    for e in evals:
        m.add_eval(e)
    for s in steps:
        m.add_step(s)
    return m


def test_eval_fold_and_any_interleaving_agree():
    steps = [step(t, 2.0 - t, {"a": TaskRollouts(0.1 * t, 0.1 * t, 2)}) for t in range(3)]
    evals = [evaluation(0, a=(0.5, 1.0), b=(0.25, 2.0)), evaluation(3, a=(0.75, 0.5), b=(float("nan"), 1.5))]
    m = fold(steps, evals)
    assert m.sft_loss == [(0, 2.0), (1, 1.0), (2, 0.0)]
    assert m.adv["a"] == [(0, 0.0, 2), (1, 0.1, 2), (2, 0.2, 2)]
    assert m.scores == {"a": [(0, 0.5), (3, 0.75)], "b": [(0, 0.25)]}  # a NaN score adds nothing
    assert m.entropy == {"a": [(0, 1.0), (3, 0.5)], "b": [(0, 2.0), (3, 1.5)]}
    live = Measurements()
    live.add_eval(evals[0])
    for s in steps:
        live.add_step(s)
    live.add_eval(evals[1])
    assert live == m


def test_state_round_trip_is_exact():
    m = fold(
        [step(t, 1.0 / (t + 1), {"a": TaskRollouts(0.3, 0.7, 4)}) for t in range(3)], [evaluation(0, a=(0.5, 1.0))]
    )
    again = Measurements.from_state(m.state_dict())
    assert again == m and isinstance(again.adv["a"][0], tuple)
