"""Adaptive schedules: scripted measurement histories against hand-computed decisions, state round trips,
the new measurement folds, and catalogs using each new kind."""

from __future__ import annotations

import json

import pytest
from pydantic import TypeAdapter

from curriculum.records import Decision
from curriculum.signals.measurements import Measurements
from schedulers.bandit import learning_progress, ucb_shares
from schedulers.base import SchedulerError, TaskInfo, summary_mu
from schedulers.build import build_scheduler
from schedulers.entropy_guard import capped_shares
from schedulers.spec import ScheduleSpec

SPEC = TypeAdapter(ScheduleSpec)


def spec(**fields):
    return SPEC.validate_python(fields)


def _curve(*values, every=10):
    return [(i * every, v) for i, v in enumerate(values)]


# ---------------------------------------------------------------------------------------------- summary


def test_summary_mu_is_the_mean_over_the_steps_tasks():
    task_mu = {"a": 0.4, "b": 0.1, "c": 1.0}
    assert summary_mu(task_mu, {"a": 2}, {"b": 1}) == pytest.approx(0.25)  # (0.4 + 0.1) / 2; c has no rows
    assert summary_mu(task_mu, {}, {}) == pytest.approx(0.5)  # no rows at all: (0.4 + 0.1 + 1.0) / 3


# --------------------------------------------------------------------------------------- reward_adaptive

RA_TASKS = [TaskInfo("a", "structured"), TaskInfo("b", "creative"), TaskInfo("c", "structured", has_sft=False)]


def test_reward_adaptive_by_hand():
    s = build_scheduler(spec(kind="reward_adaptive", tau=0.6, window=2, sft_batch=4, rl_batch=3), RA_TASKS, 100)
    # no reward yet: a, b start at initial_mu = min(tau, 1) = 0.6; c has no demonstrations: 0
    first = s.decide(0, Measurements())
    assert first.task_mu == {"a": 0.6, "b": 0.6, "c": 0.0}
    assert first.sft == {"a": 2, "b": 2} and first.rl == {"a": 1, "b": 1, "c": 1}
    assert first.mu == pytest.approx(0.4)  # (0.6 + 0.6 + 0) / 3: every task has rows
    # a: last 2 rewards 0.3, 0.4 -> 0.35 -> mu = max(0, 0.6 - 0.35) = 0.25 (the first reward 0.1 is out of the window)
    # b: 0.9, 0.7 -> 0.8 -> max(0, 0.6 - 0.8) = 0: no SFT rows for b, all 4 go to a
    m = Measurements(rewards={"a": _curve(0.1, 0.3, 0.4, every=1), "b": [(0, 0.9), (2, 0.7)]})
    d = s.decide(3, m)
    assert d.task_mu["a"] == pytest.approx(0.25) and d.task_mu["b"] == 0.0
    assert d.sft == {"a": 4}
    assert d.rl_total == 3  # RL prompts keep coming, to keep measuring the reward
    assert d.mu == pytest.approx(0.25 / 3)  # (0.25 + 0 + 0) / 3
    assert "a reward 0.35 (2 steps) -> 0.25" in d.why and "b reward 0.80 (2 steps) -> 0.00" in d.why
    assert d.stage == "adaptive"


def test_reward_adaptive_clips_and_skips_sft_when_all_mu_are_zero():
    tasks = RA_TASKS[:2]
    s = build_scheduler(spec(kind="reward_adaptive", tau=0.6, window=3, initial_mu=0.9), tasks, 10)
    assert s.decide(0, Measurements()).task_mu == {"a": 0.9, "b": 0.9}  # explicit initial_mu
    # a reward -0.6 (a penalty): 0.6 - (-0.6) = 1.2, clipped to 1; b 0.6 - 0.75 < 0, clipped to 0
    d = s.decide(1, Measurements(rewards={"a": [(0, -0.6)], "b": [(0, 0.75)]}))
    assert d.task_mu == {"a": 1.0, "b": 0.0}
    assert d.rl == {"a": 4, "b": 4}  # a at mu 1 still gets rollouts (its RL loss weighs 0)
    d = s.decide(2, Measurements(rewards={"a": [(0, 0.7)], "b": [(0, 1.0)]}))
    assert d.task_mu == {"a": 0.0, "b": 0.0} and d.sft == {} and d.mu == 0.0


# ------------------------------------------------------------------------------------------ phase_aware

# the three-phase arc of tests/unit/curriculum/signals/test_phases.py: shift, readapt, then overfit at step 80
# (patience 2)
ARC = _curve(0.50, 0.44, 0.40, 0.47, 0.55, 0.60, 0.60, 0.56, 0.52, 0.50)
FALLING = [(t, 2.0 - 0.01 * t) for t in range(100)]
FLAT = [(t, 1.0) for t in range(100)]
PA_TASKS = [TaskInfo("a", "structured"), TaskInfo("b", "structured")]


def _pa_measurements(evals_through: int, sft_loss=FALLING, extra=()) -> Measurements:
    scores = [(t, v) for t, v in ARC if t <= evals_through] + list(extra)
    flat = [(t, 0.5) for t, _ in ARC if t <= evals_through]
    return Measurements(scores={"a": scores, "b": flat}, sft_loss=sft_loss)


def test_phase_aware_holds_peak_then_decays_after_overfit():
    s = build_scheduler(
        spec(kind="phase_aware", peak=0.8, valley=0.2, decay_steps=10, sft_batch=4, rl_batch=2), PA_TASKS, 200
    )
    assert s.decide(0, Measurements()).task_mu == {"a": 0.8, "b": 0.8}  # no eval yet: peak
    # through step 70 a went start, shift, shift, readapt x3, stable, stable: peak, and the plateau holds it
    d = s.decide(75, _pa_measurements(70))
    assert d.task_mu == {"a": 0.8, "b": 0.8} and d.stage == "peak"
    assert "a stable: peak 0.80" in d.why
    # the eval at step 80 is a's second below 0.60 - 0.03 with a falling SFT loss: overfit, seen at step 81
    d = s.decide(81, _pa_measurements(80))
    assert d.task_mu == {"a": 0.8, "b": 0.8} and d.stage == "decay"  # k = 0: the decay starts at peak
    assert "overfit since step 81" in d.why
    # k = 86 - 81 = 5 of 10: 0.2 + 0.6 * (1 + cos(pi / 2)) / 2 = 0.5
    d = s.decide(86, _pa_measurements(80))
    assert d.task_mu["a"] == pytest.approx(0.5) and d.task_mu["b"] == 0.8
    assert d.mu == pytest.approx(0.65)  # (0.5 + 0.8) / 2
    assert "decay 5/10 -> 0.50" in d.why
    # k = 10: valley, for good; b never overfit: peak
    d = s.decide(91, _pa_measurements(90))
    assert d.task_mu == {"a": 0.2, "b": 0.8} and d.stage == "valley"
    # a later rise (readapt) does not undo the detection
    d = s.decide(120, _pa_measurements(90, extra=[(100, 0.58)]))
    assert d.task_mu["a"] == 0.2
    assert d.sft_total == 4 and d.rl_total == 2


def test_phase_aware_needs_a_falling_sft_loss_and_uses_the_thresholds():
    flat_loss = build_scheduler(spec(kind="phase_aware", peak=0.8, valley=0.2), PA_TASKS, 200)
    assert flat_loss.decide(95, _pa_measurements(90, sft_loss=FLAT)).task_mu["a"] == 0.8  # decline, loss flat
    no_loss = build_scheduler(spec(kind="phase_aware", peak=0.8, valley=0.2, decay_steps=0), PA_TASKS, 200)
    assert no_loss.decide(95, _pa_measurements(90, sft_loss=[])).task_mu["a"] == 0.2  # no loss: decline decides
    # overfit_drop 0.09: the line 0.60 - 0.09 = 0.51 is crossed once only: no overfit
    loose = build_scheduler(spec(kind="phase_aware", peak=0.8, valley=0.2, overfit_drop=0.09), PA_TASKS, 200)
    assert loose.decide(95, _pa_measurements(90)).task_mu["a"] == 0.8


def test_phase_aware_peak_one_has_no_rl_and_a_task_without_demonstrations_gets_zero():
    tasks = [TaskInfo("a", "structured"), TaskInfo("b", "structured", has_sft=False)]
    s = build_scheduler(spec(kind="phase_aware", peak=1.0, valley=0.0, sft_batch=2, rl_batch=2), tasks, 10)
    d = s.decide(0, Measurements())
    assert d.task_mu == {"a": 1.0, "b": 0.0}
    assert d.sft == {"a": 2} and d.rl == {"b": 2}  # a at mu 1: no RL prompts; b: RL only


# ---------------------------------------------------------------------------------------- entropy_guard

EG_TASKS = [TaskInfo("s", "structured"), TaskInfo("c", "creative"), TaskInfo("d", "structured")]
EG = dict(
    kind="entropy_guard",
    mu=0.1,
    structured_band=[0.1, 1.0],
    creative_band=[0.8, 2.0],
    boost=2.0,
    max_share=0.6,
    saturation=0.95,
    mu_step=0.15,
    mu_max=0.4,
    sft_batch=3,
    rl_batch=6,
)


def _eg_evals(*points) -> Measurements:
    """points: (step, {task: (score, entropy)}) -> measurements holding those evals."""
    m = Measurements()
    for step, per_task in points:
        for task, (score, entropy) in per_task.items():
            m.scores.setdefault(task, []).append((step, score))
            m.entropy.setdefault(task, []).append((step, entropy))
    return m


EG_EVALS = [
    # s: collapsing, unsolved; c: collapsing; d: collapsing but solved
    (0, {"s": (0.5, 0.05), "c": (0.6, 0.5), "d": (0.97, 0.05)}),
    (10, {"s": (0.6, 0.08), "c": (0.6, 0.6), "d": (0.97, 0.05)}),
    (20, {"s": (0.6, 0.09), "c": (0.6, 0.7), "d": (0.97, 0.05)}),
    (30, {"s": (0.7, 0.5), "c": (0.6, 1.0), "d": (0.97, 0.05)}),
    (40, {"s": (0.7, 1.5), "c": (0.6, 2.5), "d": (0.97, 0.05)}),
]


def _shares(s, d: Decision) -> dict[str, float]:
    return {t: round(p, 6) for t, p in s.rl_shares(d.task_mu).items()}


def test_entropy_guard_by_hand():
    s = build_scheduler(spec(**EG), EG_TASKS, 100)
    # eval 0: c 0.5 < 0.8: weight 1 * 2 -> shares s 1/4, c 2/4, d 1/4 (under c's cap max(0.6, 1/3) = 0.6)
    #         s 0.05 < 0.1 and score 0.5 < 0.95: mu 0.1 + 0.15 = 0.25
    #         d 0.05 < 0.1 but score 0.97 >= 0.95: hold at 0.1
    d = s.decide(1, _eg_evals(*EG_EVALS[:1]))
    assert _shares(s, d) == {"s": 0.25, "c": 0.5, "d": 0.25}
    assert d.task_mu == {"s": pytest.approx(0.25), "c": 0.1, "d": 0.1}
    assert d.mu == pytest.approx(0.15)  # (0.25 + 0.1 + 0.1) / 3
    assert "c (creative) entropy 0.50 < band 0.80: RL share 0.33 -> 0.50" in d.why
    assert "s (structured) entropy 0.05 < band 0.10, score 0.50 < 0.95: mu 0.10 -> 0.25" in d.why
    assert "d (structured) entropy 0.05 < band 0.10 but score 0.97 >= saturation 0.95: mu 0.10 -> 0.10" in d.why
    # the same eval again: no rule runs (nothing is boosted twice on the same data)
    again = s.decide(2, _eg_evals(*EG_EVALS[:1]))
    assert again.task_mu == d.task_mu and _shares(s, again) == _shares(s, d)
    assert again.why.startswith("no new eval, holding c RL weight x2, s mu 0.25")
    # eval 10: c again: weights 1, 4, 1 -> c would get 4/6 = 0.667 > cap 0.6: held at 0.6, s and d 0.2 each
    #          s again: 0.25 + 0.15 = 0.40 = mu_max
    d = s.decide(11, _eg_evals(*EG_EVALS[:2]))
    assert _shares(s, d) == {"s": 0.2, "c": 0.6, "d": 0.2}
    assert d.task_mu["s"] == pytest.approx(0.4)
    # eval 20: c's share is at its cap and s at mu_max: both hold
    d = s.decide(21, _eg_evals(*EG_EVALS[:3]))
    assert _shares(s, d) == {"s": 0.2, "c": 0.6, "d": 0.2} and d.task_mu["s"] == pytest.approx(0.4)
    assert "(share at its cap)" in d.why
    # eval 30: both back inside their bands: one step back each: c weight 2 (share 0.5), s mu 0.25
    d = s.decide(31, _eg_evals(*EG_EVALS[:4]))
    assert _shares(s, d) == {"s": 0.25, "c": 0.5, "d": 0.25} and d.task_mu["s"] == pytest.approx(0.25)
    assert "c (creative) entropy 1.00 in band [0.80, 2.00]: RL share 0.60 -> 0.50" in d.why
    # eval 40: both above hi: let go at once
    d = s.decide(41, _eg_evals(*EG_EVALS[:5]))
    assert _shares(s, d) == {"s": 0.333333, "c": 0.333333, "d": 0.333333}
    assert d.task_mu == {"s": 0.1, "c": 0.1, "d": 0.1}


def test_entropy_guard_rows_follow_the_shares():
    s = build_scheduler(spec(**EG), EG_TASKS, 100)
    m = _eg_evals(*EG_EVALS[:1])  # shares s 1/4, c 1/2, d 1/4; SFT by weight to mu > 0 (all three)
    decisions = [s.decide(t, m) for t in range(4)]
    assert all(d.rl_total == 6 and d.sft_total == 3 for d in decisions)
    rl = {t: sum(d.rl.get(t, 0) for d in decisions) for t in "scd"}
    assert rl == {"s": 6, "c": 12, "d": 6}  # 24 prompts * (1/4, 1/2, 1/4)


def test_capped_shares():
    # a is capped at 0.5; b and c share the other 0.5 by weight 1 : 3
    assert capped_shares({"a": 8.0, "b": 1.0, "c": 3.0}, {"a": 0.5}) == {"a": 0.5, "b": 0.125, "c": 0.375}
    assert capped_shares({"a": 1.0, "b": 1.0}, {"a": 0.9}) == {"a": 0.5, "b": 0.5}  # under the cap: untouched


# ----------------------------------------------------------------------------------------------- bandit


def test_learning_progress_takes_the_latest_window_of_rollouts():
    triples = [(0, 0.5, 2), (1, 0.3, 2), (2, 0.1, 2)]  # (step, mean |advantage|, rollouts)
    assert learning_progress(triples, 4) == pytest.approx(0.2)  # (0.1 * 2 + 0.3 * 2) / 4
    assert learning_progress(triples, 5) == pytest.approx(0.26)  # (0.1 * 2 + 0.3 * 2 + 0.5 * 1) / 5: oldest in part
    assert learning_progress(triples, 300) == pytest.approx(0.3)  # all 6: (1.0 + 0.6 + 0.2) / 6
    assert learning_progress([], 300) == 0.0


def test_bandit_ucb_by_hand():
    # a: LP = 0.26 (window 5, above), n_a = 6; b: one step, LP = 0.4, n_b = 3; N = 9, ln(10) = 2.302585
    # UCB_a = 0.26 + sqrt(2 * 2.302585 / 7) = 0.26 + sqrt(0.657881) = 0.26 + 0.811099 = 1.071099
    # UCB_b = 0.40 + sqrt(2 * 2.302585 / 4) = 0.40 + sqrt(1.151293) = 0.40 + 1.072983 = 1.472983
    # p_a = 1 / (1 + exp((1.472983 - 1.071099) / 0.1)) = 1 / (1 + exp(4.018841)) = 1 / 56.636583 = 0.017656
    tasks = [TaskInfo("a", "structured"), TaskInfo("b", "structured")]
    s = build_scheduler(spec(kind="bandit", window=5, rl_batch=4), tasks, 1000)
    m = Measurements(adv={"a": [(0, 0.5, 2), (1, 0.3, 2), (2, 0.1, 2)], "b": [(1, 0.4, 3)]})
    d = s.decide(0, m)
    assert "N 9" in d.why and "a LP 0.260 n 6 UCB 1.071 share 0.02" in d.why
    assert "b LP 0.400 n 3 UCB 1.473 share 0.98" in d.why
    assert d.mu == 0.0 and d.sft == {} and not d.drop_zero_variance
    total_a = d.rl.get("a", 0) + sum(s.decide(t, m).rl.get("a", 0) for t in range(1, 100))
    assert total_a == 7  # 400 prompts * 0.017656 = 7.06: the round robin is exact to within a row
    shares = ucb_shares(m.adv, {"a": 1.0, "b": 1.0}, s.spec.window, s.spec.c, s.spec.temperature)
    assert shares["a"][3] == pytest.approx(0.017656, abs=1e-6)  # the share worked by hand above


def test_bandit_tries_an_unseen_task_and_weights_are_a_prior():
    tasks = [TaskInfo("a", "structured"), TaskInfo("new", "creative")]
    s = build_scheduler(spec(kind="bandit", rl_batch=4), tasks, 10)
    # new: LP 0, bonus sqrt(2 ln 101 / 1) = 3.04 vs a: 0.5 + sqrt(2 ln 101 / 101) = 0.80: new gets it all
    d = s.decide(0, Measurements(adv={"a": [(0, 0.5, 100)]}))
    assert d.rl == {"new": 4}
    # equal measurements, weights 3 : 1 -> shares 3/4, 1/4
    weighted = [TaskInfo("a", "structured", 3.0), TaskInfo("b", "structured", 1.0)]
    s = build_scheduler(spec(kind="bandit", rl_batch=4), weighted, 10)
    assert s.decide(0, Measurements()).rl == {"a": 3, "b": 1}


def test_bandit_flags_and_sft_rows():
    tasks = [TaskInfo("a", "structured"), TaskInfo("b", "structured")]
    s = build_scheduler(spec(kind="bandit", mu=0.2, sft_batch=2, drop_zero_variance=True), tasks, 10)
    d = s.decide(0, Measurements())
    assert d.drop_zero_variance and d.mu == 0.2 and d.sft == {"a": 1, "b": 1}


# ------------------------------------------------------------------------------------------------- gate


def test_gate_sets_the_gate_on_every_decision():
    tasks = [TaskInfo("a", "structured"), TaskInfo("b", "creative", has_sft=False)]
    s = build_scheduler(spec(kind="gate", rl_batch=4), tasks, 10)
    for t in range(3):
        d = s.decide(t, Measurements())
        assert (d.mu, d.gate_below, d.sft, d.rl) == (0.0, 0.0, {}, {"a": 2, "b": 2})
    assert "all <= 0" in d.why
    s = build_scheduler(spec(kind="gate", mu=0.3, gate_below=0.2, sft_batch=2, rl_batch=2), tasks, 10)
    d = s.decide(0, Measurements())
    assert (d.mu, d.gate_below, d.sft) == (0.3, 0.2, {"a": 2})


def test_gate_without_demonstrations_is_refused():
    with pytest.raises(SchedulerError, match="both RL prompts and demonstrations"):
        build_scheduler(spec(kind="gate"), [TaskInfo("a", "structured", has_sft=False)], 10)


# ------------------------------------------------------------------------------------- state round trips

RT_TASKS = [TaskInfo("a", "structured", 2.0), TaskInfo("b", "creative", 1.0), TaskInfo("c", "structured", 0.5)]
ENTROPY = {  # per eval: a structured, b creative; both collapse again before the split at step 41
    "a": [0.5, 0.05, 0.04, 0.3, 1.5, 0.5, 0.5, 0.05, 0.05, 0.04, 0.03],
    "b": [1.0, 0.5, 0.4, 0.6, 1.0, 2.5, 1.0, 0.5, 0.5, 0.4, 0.3],
    "c": [0.5] * 11,
}


def _scripted(step: int) -> Measurements:
    """What a run has measured before `step`: a step record per step, an eval every 4 steps."""
    m = Measurements(step=step)
    for e in range(0, step, 4):
        i = min(e // 4, len(ARC) - 1)
        for task in "abc":
            m.scores.setdefault(task, []).append((e, ARC[i][1] if task == "a" else 0.5))
            m.entropy.setdefault(task, []).append((e, ENTROPY[task][min(e // 4, 10)]))
    for t in range(step):
        m.sft_loss.append((t, 2.0 - 0.01 * t))
        for k, task in enumerate("abc"):
            m.rewards.setdefault(task, []).append((t, 0.1 + 0.03 * t * (k + 1) % 0.9))
            m.adv.setdefault(task, []).append((t, 0.3 / (1 + t * (k + 1) / 10), 4 * (k + 1)))
    return m


ROUND_TRIP = {
    "reward_adaptive": dict(kind="reward_adaptive", window=3, sft_batch=5, rl_batch=3),
    # a overfits at its eval of step 32 (seen at step 33), so the decay is under way at the split
    "phase_aware": dict(kind="phase_aware", peak=0.8, valley=0.1, decay_steps=12, sft_batch=5, rl_batch=3),
    "entropy_guard": {**EG, "sft_batch": 5, "rl_batch": 5},
    "bandit": dict(kind="bandit", window=20, temperature=1.0, mu=0.1, sft_batch=5, rl_batch=5),
    "gate": dict(kind="gate", mu=0.2, sft_batch=5, rl_batch=3),
}


@pytest.mark.parametrize("kind", ROUND_TRIP)
def test_state_round_trip_continues_identically(kind):
    schedule = spec(**ROUND_TRIP[kind])
    one = build_scheduler(schedule, RT_TASKS, 60)
    for t in range(0, 41):
        one.decide(t, _scripted(t))
    saved = json.loads(json.dumps(one.state_dict()))  # checkpointable as JSON
    two = build_scheduler(schedule, RT_TASKS, 60)
    two.load_state_dict(saved)
    cold = build_scheduler(schedule, RT_TASKS, 60)  # the same policy without the saved state
    steps = range(41, 51)
    expected = [one.decide(t, _scripted(t)) for t in steps]
    assert [two.decide(t, _scripted(t)) for t in steps] == expected
    assert [cold.decide(t, _scripted(t)) for t in steps] != expected  # the state matters: this test can fail
    if set(saved) != {"mix"}:  # the policy's own state (detections, boosts, last evals) matters too
        rows_only = build_scheduler(schedule, RT_TASKS, 60)
        rows_only.mix.load_state_dict(saved["mix"])
        assert [rows_only.decide(t, _scripted(t)) for t in steps] != expected
