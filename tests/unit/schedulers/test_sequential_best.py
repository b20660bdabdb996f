"""`sequential` with `switch: best`: the mean held-out score by hand, the best SFT evaluation rule, and the
scheduler's decisions on hand-made score histories (SFT until `patience` evaluations fail to beat the best,
then RL from the best step, once), its state round trip, and the spec's refusal of task stages."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from curriculum.records import EvalRecord, TaskEval
from curriculum.signals.measurements import Measurements
from schedulers.base import TaskInfo
from schedulers.build import build_scheduler
from schedulers.sequential import Sequential, best_sft_eval
from schedulers.spec import SequentialSchedule

TASKS = [TaskInfo("a", "structured"), TaskInfo("b", "creative")]


def evaluation(step: int, **scores: float) -> EvalRecord:
    """An evaluation at `step` with these held-out scores (task id -> score); the other metrics are filler."""
    return EvalRecord(step, {t: TaskEval(s, s, 0.5, 1.0, 3.0, None) for t, s in scores.items()})


def measured(history: dict[int, float]) -> Measurements:
    """Measurements whose two tasks score `mean - 0.1` and `mean + 0.1` at each step: the mean is `mean`."""
    m = Measurements()
    for step, mean in history.items():
        m.add_eval(evaluation(step, a=mean - 0.1, b=mean + 0.1))
    return m


def spec(**fields) -> SequentialSchedule:
    base = {"kind": "sequential", "sft_steps": 20, "switch": "best", "patience": 2, "sft_batch": 4, "rl_batch": 2}
    return SequentialSchedule.model_validate({**base, **fields})


def run(scheduler: Sequential, steps: range, history: dict[int, float], m: Measurements | None = None) -> list:
    """Decide `steps` as the loop does: the evaluation at step s (if any) is folded before deciding step s."""
    m = Measurements() if m is None else m
    decisions = []
    for step in steps:
        if step in history:
            m.add_eval(evaluation(step, a=history[step] - 0.1, b=history[step] + 0.1))
        decisions.append(scheduler.decide(step, m))
    return decisions


# ---- Measurements.mean_scores ----


def test_mean_scores_by_hand_and_a_step_only_one_task_has_is_left_out():
    m = Measurements()
    m.add_eval(evaluation(0, a=0.2, b=0.4))  # (0.2 + 0.4) / 2 = 0.3
    m.add_eval(evaluation(2, a=0.5, b=1.0))  # (0.5 + 1.0) / 2 = 0.75
    m.add_eval(evaluation(3, a=0.9))  # b not scored at step 3: left out
    m.add_eval(evaluation(4, a=0.0, b=0.25))  # 0.125
    m.add_eval(evaluation(5, a=0.6, b=math.nan))  # b's NaN adds nothing: step 5 has only a, left out
    got = m.mean_scores()
    assert [s for s, _ in got] == [0, 2, 4]
    assert [v for _, v in got] == pytest.approx([0.3, 0.75, 0.125])


def test_mean_scores_of_no_evaluation_is_empty():
    assert Measurements().mean_scores() == []


# ---- best_sft_eval ----


def test_best_sft_eval_ignores_step_0_takes_the_first_of_equals_and_counts_since():
    # step 0 scores highest (1.0) but is the starting model: never counted
    # means after step 0: 2 -> 0.5, 4 -> 0.7, 6 -> 0.7 (equal: the first, 4, wins), 8 -> 0.6
    m = measured({0: 1.0, 2: 0.5, 4: 0.7, 6: 0.7, 8: 0.6})
    assert best_sft_eval(m) == (4, 2)  # evaluations 6 and 8 came after the best


def test_best_sft_eval_rising_scores_and_no_evaluation_after_step_0():
    assert best_sft_eval(measured({0: 0.1, 2: 0.2, 4: 0.3})) == (4, 0)  # the last is the best: 0 since
    assert best_sft_eval(measured({0: 0.9})) == (None, 0)  # only the starting model was evaluated
    assert best_sft_eval(Measurements()) == (None, 0)


def test_best_sft_eval_uses_the_mean_over_tasks_not_one_task():
    m = Measurements()
    m.add_eval(evaluation(2, a=0.9, b=0.1))  # mean 0.5, a alone would make step 2 the best
    m.add_eval(evaluation(4, a=0.4, b=0.8))  # mean 0.6
    assert best_sft_eval(m) == (4, 0)


# ---- the Sequential scheduler with switch: best ----

# mean held-out score: 0 -> 0.9 (ignored), 2 -> 0.3, 4 -> 0.5 (best), 6 -> 0.4, 8 -> 0.45 (2nd without a new best)
FALLING = {0: 0.9, 2: 0.3, 4: 0.5, 6: 0.4, 8: 0.45, 10: 0.99, 12: 0.99}


def test_best_switches_after_patience_evaluations_without_a_new_best_from_the_best_step():
    s = build_scheduler(spec(), TASKS, 30)
    assert isinstance(s, Sequential) and s.adaptive and s.restores
    decisions = run(s, range(14), FALLING)
    # SFT for steps 0..7: mu 1, 4 demonstrations split 2 / 2, no RL prompts
    for d in decisions[:8]:
        assert (d.stage, d.mu, d.sft, d.rl, d.restore_from) == ("sft", 1.0, {"a": 2, "b": 2}, {}, None)
    assert decisions[0].why == "SFT stage: no SFT evaluation yet"  # step 0's evaluation does not count
    assert "best mean held-out score at step 2, 0 evaluation(s) since" in decisions[2].why
    assert "best mean held-out score at step 4, 1 evaluation(s) since (patience 2)" in decisions[7].why
    # step 8: evaluations 6 and 8 did not beat step 4's 0.5 -> RL, from step 4's weights
    switch = decisions[8]
    assert (switch.stage, switch.mu, switch.sft, switch.rl, switch.restore_from) == ("rl", 0.0, {}, {"a": 1, "b": 1}, 4)
    assert "2 evaluations without a new best" in switch.why and "weights of step 4" in switch.why
    assert s.switched_at == 8 and not s.restores
    # after it: RL, no restore, even though the scores at 10 and 12 beat everything before
    for d in decisions[9:]:
        assert (d.stage, d.mu, d.sft, d.restore_from) == ("rl", 0.0, {}, None)
        assert d.rl_total == 2 and d.why == "RL stage since step 8"


def test_a_new_best_resets_patience():
    # 2 -> 0.3, 4 -> 0.5, 6 -> 0.4 (1 since), 8 -> 0.6 (new best: 0 since), 10 -> 0.5, 12 -> 0.5 (2 since)
    s = build_scheduler(spec(), TASKS, 30)
    decisions = run(s, range(14), {0: 0.0, 2: 0.3, 4: 0.5, 6: 0.4, 8: 0.6, 10: 0.5, 12: 0.5})
    assert [d.stage for d in decisions] == ["sft"] * 12 + ["rl"] * 2
    assert [d.restore_from for d in decisions] == [None] * 12 + [8, None]


def test_patience_1_switches_at_the_first_evaluation_that_is_not_a_new_best():
    s = build_scheduler(spec(patience=1), TASKS, 30)
    decisions = run(s, range(8), {0: 0.0, 2: 0.3, 4: 0.3, 6: 0.9})  # 4 equals 2: not a new best
    assert [d.stage for d in decisions] == ["sft"] * 4 + ["rl"] * 4
    assert [d.restore_from for d in decisions] == [None] * 4 + [2, None, None, None]


def test_reaching_sft_steps_switches_to_the_best_step_before_patience_runs_out():
    # sft_steps 6, patience 2: at step 6 only one evaluation (6) has not beaten step 4: sft_steps decides
    s = build_scheduler(spec(sft_steps=6), TASKS, 10)
    decisions = run(s, range(8), {0: 0.0, 2: 0.5, 4: 0.6, 6: 0.55})
    assert [d.stage for d in decisions] == ["sft"] * 6 + ["rl"] * 2
    assert decisions[6].restore_from == 4
    assert "sft_steps 6 reached" in decisions[6].why and "weights of step 4" in decisions[6].why


def test_reaching_sft_steps_with_no_evaluation_after_step_0_restores_nothing():
    s = build_scheduler(spec(sft_steps=3), TASKS, 6)
    decisions = run(s, range(6), {0: 0.9})  # only the starting model was evaluated
    assert [d.stage for d in decisions] == ["sft"] * 3 + ["rl"] * 3
    assert [d.restore_from for d in decisions] == [None] * 6
    assert "sft_steps 3 reached" in decisions[3].why and "no SFT evaluation" in decisions[3].why
    assert s.switched_at == 3 and not s.restores


def test_state_round_trip_keeps_the_switch():
    m = Measurements()
    s = build_scheduler(spec(), TASKS, 30)
    run(s, range(10), FALLING, m)  # switched at step 8
    again = build_scheduler(spec(), TASKS, 30)
    again.load_state_dict(s.state_dict())
    assert again.switched_at == 8 and not again.restores
    # both decide alike from here on: RL, no restore (rows split by the same mixer credit)
    for step in range(10, 14):
        a, b = s.decide(step, m), again.decide(step, m)
        assert a == b and (a.stage, a.restore_from, a.why) == ("rl", None, "RL stage since step 8")
    # a fresh scheduler that did not load the state would switch a second time and ask for step 4's weights
    # again: the round trip is what keeps the switch done
    assert build_scheduler(spec(), TASKS, 30).decide(14, m).restore_from == 4


def test_state_round_trip_before_the_switch_decides_the_switch_the_same_way():
    m = Measurements()
    s = build_scheduler(spec(), TASKS, 30)
    run(s, range(7), FALLING, m)  # steps 0..6: SFT, 1 evaluation since the best
    again = build_scheduler(spec(), TASKS, 30)
    again.load_state_dict(s.state_dict())
    assert again.switched_at is None and again.restores
    assert s.decide(7, m).stage == again.decide(7, m).stage == "sft"
    m.add_eval(evaluation(8, a=0.35, b=0.55))  # mean 0.45: the 2nd evaluation without a new best
    a, b = s.decide(8, m), again.decide(8, m)
    assert a == b and a.restore_from == 4


def test_fixed_switch_is_unchanged_and_not_adaptive():
    s = build_scheduler(spec(switch="fixed", sft_steps=5), TASKS, 12)
    assert not s.adaptive and not s.restores
    decisions = run(s, range(12), FALLING)  # falling scores change nothing
    assert [d.stage for d in decisions] == ["sft"] * 5 + ["rl"] * 7
    assert [d.mu for d in decisions] == [1.0] * 5 + [0.0] * 7
    assert all(d.restore_from is None for d in decisions)
    assert decisions[4].why == "SFT stage: step 4 < sft_steps 5"
    assert decisions[5].why == "RL stage: step 5 >= sft_steps 5"
    assert "switched_at" in s.state_dict() and s.switched_at is None  # fixed never records a switch


def test_spec_defaults_and_refusals():
    default = SequentialSchedule.model_validate({"kind": "sequential", "sft_steps": 3})
    assert (default.switch, default.patience) == ("fixed", 3)
    order = {"kind": "kind_first"}
    with pytest.raises(ValidationError, match="cannot run inside task stages"):
        spec(order=order)
    assert spec(switch="fixed", order=order).order is not None  # fixed may run inside task stages
    with pytest.raises(ValidationError):
        spec(patience=0)
    with pytest.raises(ValidationError):
        spec(switch="last")
