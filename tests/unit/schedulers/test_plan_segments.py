"""A schedule's plan as segments (`Scheduler.nominal`) against the step-by-step decisions it stands for:
for every policy, with and without task stages, the same stage and mu at every step, the same rows per
step, and each task's totals within one row of the decisions' (the Mixer's guarantee), at every stage end."""

import pytest
from pydantic import TypeAdapter

from curriculum.signals.measurements import Measurements
from curriculum.signals.stages import stages
from schedulers.base import TaskInfo
from schedulers.build import build_scheduler
from schedulers.plan import Segment, clip, mu_per_step, totals
from schedulers.spec import ScheduleSpec

# unequal weights, a task without demonstrations, a task without RL prompts
TASKS = [
    TaskInfo("a", "structured", weight=1.0),
    TaskInfo("b", "structured", weight=0.3),
    TaskInfo("c", "creative", weight=2.0, has_sft=False),
    TaskInfo("d", "creative", weight=0.7, has_rl=False),
]
SPECS = {
    "chord": {"kind": "chord", "warmup_steps": 3, "decay_steps": 11, "peak": 1.0, "valley": 0.0},
    "chord-valley": {"kind": "chord", "decay_steps": 9, "peak": 0.9, "valley": 0.1, "sft_weighting": "phi"},
    "constant": {"kind": "constant", "mu": 0.4},
    "constant-rl": {"kind": "constant", "mu": 0.0},
    "sequential": {"kind": "sequential", "sft_steps": 7},
    "sequential-best": {"kind": "sequential", "sft_steps": 7, "switch": "best"},
    "reward_adaptive": {"kind": "reward_adaptive", "tau": 0.6},
    "reward_adaptive-mu1": {"kind": "reward_adaptive", "tau": 1.0},  # every mu_t 1: RL prompts all the same
    "phase_aware-peak1": {"kind": "phase_aware", "peak": 1.0},  # no RL while no task overfits
    "phase_aware": {"kind": "phase_aware"},
    "entropy_guard": {"kind": "entropy_guard", "mu": 0.2},
    "bandit": {"kind": "bandit", "mu": 0.3},
    "gate": {"kind": "gate", "mu": 0.1},
}
# one task per stage: each task must have both parts
STAGED_TASKS = [TaskInfo(t.id, t.kind, t.weight) for t in TASKS]
ORDERS = {"": None, "kind_first": {"kind": "kind_first"}, "fixed": {"kind": "fixed", "tasks": ["d", "c", "b", "a"]}}
STEPS = 29


def _spec(fields: dict, order: dict | None):
    fields = {**fields, "sft_batch": 5, "rl_batch": 3}
    return TypeAdapter(ScheduleSpec).validate_python({**fields, "order": order} if order else fields)


def _cases():
    for name, fields in SPECS.items():
        for order_name, order in ORDERS.items():
            if order and name == "sequential-best":
                continue  # switch: best cannot run inside task stages
            yield pytest.param(fields, order, id=f"{name}-{order_name or 'joint'}")


@pytest.mark.parametrize(("fields", "order"), list(_cases()))
def test_segments_are_the_decisions_without_the_per_step_split(fields, order):
    spec, tasks = _spec(fields, order), STAGED_TASKS if order else TASKS
    segments = build_scheduler(spec, tasks, STEPS).nominal(STEPS)
    scheduler = build_scheduler(spec, tasks, STEPS)
    decisions = [scheduler.decide(step, Measurements(step=step)) for step in range(STEPS)]
    # segments tile the steps in order
    assert [s.first for s in segments] == [0] + [s.last + 1 for s in segments[:-1]]
    assert segments[-1].last == STEPS - 1
    # stage and mu at every step, rows per step (the decision's totals) and the SFT weighting
    per_step = [(s, step) for s in segments for step in range(s.first, s.last + 1)]
    assert [s.stage for s, _ in per_step] == [d.stage for d in decisions]
    if any(d.task_mu for d in decisions):
        # per-task mu: the same at every step; Decision.mu (their mean over the tasks that got rows that step)
        # is in the plan the mean over the tasks with a share
        assert [s.task_mu for s, _ in per_step] == [d.task_mu for d in decisions]
        active = [t for t in decisions[0].task_mu if t in segments[0].sft_shares or t in segments[0].rl_shares]
        assert segments[0].mu[0] == pytest.approx(sum(decisions[0].task_mu[t] for t in active) / len(active))
    else:
        assert mu_per_step(segments) == pytest.approx([d.mu for d in decisions], abs=1e-12)
    assert [(s.sft, s.rl) for s, _ in per_step] == [(d.sft_total, d.rl_total) for d in decisions]
    assert [s.sft_weighting for s, _ in per_step] == [d.sft_weighting if d.sft else "none" for d in decisions]
    # each task within one row of the decisions' totals, at the end of every stage (the cumulative totals)
    for stage in stages((d.step, d.stage) for d in decisions):
        planned = totals(clip(segments, 0, stage.last))
        for task in tasks:
            sft = sum(d.sft.get(task.id, 0) for d in decisions[: stage.last + 1])
            rl = sum(d.rl.get(task.id, 0) for d in decisions[: stage.last + 1])
            p_sft, p_rl = planned.get(task.id, (0.0, 0.0))
            assert abs(p_sft - sft) < 1 + 1e-9 and abs(p_rl - rl) < 1 + 1e-9, (stage, task.id, p_sft, sft, p_rl, rl)


def test_totals_by_hand():
    """Chord W = 3, D = 11, 1 -> 0 over 29 steps: step 0 has mu 0 (RL only), step 3 mu 1 (SFT only), steps 1-2
    and 4-13 both parts, 14-28 mu 0 again (RL only). SFT over a 1 : b 0.3 : d 0.7 (c has none), RL over
    a 1 : b 0.3 : c 2 (d has none)."""
    segments = build_scheduler(_spec(SPECS["chord"], None), TASKS, STEPS).nominal(STEPS)
    assert [(s.stage, s.first, s.last, s.sft, s.rl) for s in segments] == [
        ("warmup", 0, 0, 0, 3),
        ("warmup", 1, 2, 5, 3),
        ("decay", 3, 3, 5, 0),  # mu = 1 exactly at the decay's start: SFT only
        ("decay", 4, 13, 5, 3),
        ("valley", 14, 28, 0, 3),
    ]
    sums = totals(segments)
    # SFT on steps 1-3 and 4-13: 13 steps x 5 = 65 rows; RL on every step but 3: 28 x 3 = 84 prompts
    assert sums["a"] == pytest.approx((65 * 1 / 2.0, 84 * 1 / 3.3))
    assert sums["d"] == pytest.approx((65 * 0.7 / 2.0, 0.0))
    assert sums["c"] == pytest.approx((0.0, 84 * 2 / 3.3))


def test_clip_keeps_mu_per_step():
    s = Segment(10, 19, "x", tuple(float(i) for i in range(10)), 2, 1, {"a": 1.0}, {"a": 1.0})
    part = s.clipped(15, 30)
    assert (part.first, part.last, part.mu) == (15, 19, (5.0, 6.0, 7.0, 8.0, 9.0))
    assert s.clipped(0, 9) is None
    assert totals([part]) == {"a": (10.0, 5.0)}


def test_segments_of_decisions_keep_their_exact_rows():
    """Decisions as segments (a simulated plan): the totals are the decisions' own counts, not shares."""
    from schedulers.plan import segments_of

    scheduler = build_scheduler(_spec(SPECS["chord"], None), TASKS, STEPS)
    decisions = [scheduler.decide(step, Measurements(step=step)) for step in range(STEPS)]
    segments = segments_of(decisions)
    assert len(segments) == 5 and mu_per_step(segments) == [d.mu for d in decisions]
    for task in TASKS:
        sft = sum(d.sft.get(task.id, 0) for d in decisions)
        rl = sum(d.rl.get(task.id, 0) for d in decisions)
        assert totals(segments).get(task.id, (0.0, 0.0)) == pytest.approx((sft, rl), abs=1e-9)
