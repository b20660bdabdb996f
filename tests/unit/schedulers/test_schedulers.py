"""Schedulers: mu curves against hand-computed values, the row-splitting rule, state round trips."""

import math

import pytest

from curriculum.signals.measurements import Measurements
from schedulers.base import Mixer, SchedulerError, TaskInfo
from schedulers.build import SCHEDULERS, build_scheduler
from schedulers.chord import chord_mu
from schedulers.spec import ChordSchedule, ConstantSchedule, ScheduleSpec, SequentialSchedule

TASKS = [TaskInfo("a", "structured"), TaskInfo("b", "structured"), TaskInfo("c", "creative")]
M = Measurements()


def test_chord_mu_warmup_decay_valley_by_hand():
    # W = 10, D = 20, peak 0.9, valley 0.1
    mu = lambda t: chord_mu(t, 10, 20, 0.9, 0.1)  # noqa: E731
    assert mu(0) == 0.0  # warmup starts at 0
    assert mu(5) == pytest.approx(0.45)  # 0.9 * 5 / 10
    assert mu(10) == pytest.approx(0.9)  # decay starts at peak
    # t = 10 of 20: 0.1 + 0.8 * (1 + cos(pi / 2)) / 2 = 0.1 + 0.4 = 0.5
    assert mu(20) == pytest.approx(0.5)
    # t = 15 of 20: cos(3 pi / 4) = -0.707107 -> 0.1 + 0.8 * 0.292893 / 2 = 0.217157
    assert mu(25) == pytest.approx(0.217157, abs=1e-6)
    assert mu(30) == pytest.approx(0.1)  # valley from W + D on
    assert mu(500) == pytest.approx(0.1)


def test_chord_presets():
    chord_mu_preset = ChordSchedule.model_validate({"kind": "chord", "preset": "chord-mu"})
    s = build_scheduler(chord_mu_preset, TASKS, 300)
    # W = 0, D = 200, 0.9 -> 0.05: step 100 is half way: 0.05 + 0.85 * (1 + cos(pi/2)) / 2 = 0.475
    assert [round(s.decide(t, M).mu, 6) for t in (0, 100, 200, 250)] == [0.9, 0.475, 0.05, 0.05]
    assert s.decide(0, M).sft_weighting == "none"
    phi = build_scheduler(ChordSchedule.model_validate({"kind": "chord", "preset": "chord-phi"}), TASKS, 300)
    decisions = [phi.decide(t, M) for t in range(0, 300, 50)]
    assert {d.mu for d in decisions} == {0.1}
    assert {d.sft_weighting for d in decisions} == {"phi"}


def test_chord_explicit_fields_override_the_preset():
    spec = ChordSchedule.model_validate({"kind": "chord", "preset": "chord-mu", "peak": 0.5})
    assert (spec.peak, spec.valley, spec.decay_steps) == (0.5, 0.05, 200)


def test_chord_step_with_mu_zero_has_no_sft_rows():
    spec = ChordSchedule.model_validate(
        {"kind": "chord", "warmup_steps": 4, "peak": 1.0, "valley": 0.0, "decay_steps": 4}
    )
    s = build_scheduler(spec, TASKS, 10)
    first = s.decide(0, M)  # warmup from 0
    assert first.mu == 0.0 and first.sft == {} and first.rl_total == spec.rl_batch
    peak = s.decide(4, M)  # mu = 1: SFT only
    assert peak.mu == 1.0 and peak.rl == {} and peak.sft_total == spec.sft_batch
    middle = s.decide(6, M)  # both parts
    assert 0 < middle.mu < 1 and middle.sft_total == spec.sft_batch and middle.rl_total == spec.rl_batch


def test_sequential_is_sft_then_rl():
    spec = SequentialSchedule.model_validate({"kind": "sequential", "sft_steps": 3, "sft_batch": 6, "rl_batch": 3})
    s = build_scheduler(spec, TASKS, 6)
    decisions = [s.decide(t, M) for t in range(6)]
    assert [d.stage for d in decisions] == ["sft"] * 3 + ["rl"] * 3
    assert [d.mu for d in decisions] == [1.0] * 3 + [0.0] * 3
    assert all(d.sft_total == 6 and d.rl == {} for d in decisions[:3])
    assert all(d.rl_total == 3 and d.sft == {} for d in decisions[3:])
    assert decisions[0].sft == {"a": 2, "b": 2, "c": 2}
    assert "sft_steps 3" in decisions[0].why


def test_constant_mixes_every_step():
    spec = ConstantSchedule.model_validate({"kind": "constant", "mu": 0.3, "sft_batch": 3, "rl_batch": 6})
    s = build_scheduler(spec, TASKS, 5)
    for t in range(5):
        d = s.decide(t, M)
        assert (d.mu, d.sft_total, d.rl_total) == (0.3, 3, 6)


def test_mixer_rounding_by_hand():
    # weights 0.45 / 0.45 / 0.1, 4 rows per step.
    # step 1: credit +1.8, +1.8, +0.4 -> a(1.8) b(1.8) a(0.8, tie -> first) b(0.8): {a:2, b:2}; credit -0.2 -0.2 0.4
    # step 2: credit 1.6 1.6 0.8 -> a b c(0.8 > 0.6) a(0.6, tie -> first): {a:2, b:1, c:1}
    mixer = Mixer(["a", "b", "c"])
    w = {"a": 0.45, "b": 0.45, "c": 0.1}
    assert mixer.split(4, w) == {"a": 2, "b": 2}
    assert mixer.split(4, w) == {"a": 2, "b": 1, "c": 1}
    totals = {"a": 4, "b": 3, "c": 1}
    for _ in range(8):
        step = mixer.split(4, w)
        assert sum(step.values()) == 4  # every requested row is present
        for k, v in step.items():
            totals[k] += v
    # after 10 steps: exact shares 18, 18, 4
    assert totals == {"a": 18, "b": 18, "c": 4}


def test_mixer_fewer_rows_than_tasks_rotates():
    mixer = Mixer(list("abcdef"))
    seen = [mixer.split(1, dict.fromkeys("abcdef", 1.0)) for _ in range(6)]
    assert [next(iter(s)) for s in seen] == list("abcdef")


def test_scheduler_state_round_trip_continues_identically():
    spec = ChordSchedule.model_validate({"kind": "chord", "decay_steps": 10, "sft_batch": 5, "rl_batch": 2})
    tasks = [TaskInfo("a", "structured", 2.0), TaskInfo("b", "creative", 1.0), TaskInfo("c", "structured", 0.5)]
    one = build_scheduler(spec, tasks, 20)
    for t in range(7):
        one.decide(t, M)
    saved = one.state_dict()
    two = build_scheduler(spec, tasks, 20)
    two.load_state_dict(saved)
    assert [one.decide(t, M) for t in range(7, 20)] == [two.decide(t, M) for t in range(7, 20)]


def test_schedule_asking_for_sft_without_demonstrations_is_refused():
    no_sft = [TaskInfo("a", "structured", has_sft=False)]
    spec = SequentialSchedule.model_validate({"kind": "sequential", "sft_steps": 5})
    with pytest.raises(SchedulerError, match="no task has demonstrations"):
        build_scheduler(spec, no_sft, 10)


def test_weights_set_the_shares():
    spec = ConstantSchedule.model_validate({"kind": "constant", "mu": 0.5, "sft_batch": 3, "rl_batch": 3})
    tasks = [TaskInfo("a", "structured", 2.0), TaskInfo("b", "structured", 1.0)]
    s = build_scheduler(spec, tasks, 30)
    total = {"a": 0, "b": 0}
    for t in range(30):
        for k, v in s.decide(t, M).sft.items():
            total[k] += v
    assert total == {"a": 60, "b": 30}
    assert math.isclose(total["a"] / total["b"], 2.0)


ADAPTIVE = {
    "sequential": False,
    "constant": False,
    "chord": False,
    "reward_adaptive": True,
    "phase_aware": True,
    "entropy_guard": True,
    "bandit": True,
    "gate": True,
}


@pytest.mark.parametrize("kind", ADAPTIVE)
def test_a_scheduler_says_whether_it_decides_from_measurements(kind):
    """`adaptive` is the scheduler's own property (the plan labels an adaptive schedule's plan nominal);
    a schedule inside task stages is adaptive when its policy is."""
    from pydantic import TypeAdapter

    fields = {"kind": kind, "sft_batch": 2, "rl_batch": 2, **({"sft_steps": 2} if kind == "sequential" else {})}
    fields |= {"mu": 0.5} if kind == "constant" else {}
    spec = TypeAdapter(ScheduleSpec).validate_python(fields)
    assert build_scheduler(spec, TASKS, 9).adaptive is ADAPTIVE[kind]
    staged = spec.model_copy(
        update={"order": TypeAdapter(ScheduleSpec).validate_python({**fields, "order": {"kind": "kind_first"}}).order}
    )
    assert build_scheduler(staged, TASKS, 9).adaptive is ADAPTIVE[kind]
    assert set(ADAPTIVE) == set(SCHEDULERS)  # every registered policy is listed here
