"""Task stages: an order (fixed, kind_first, bwt_order) composed with the catalog's mix policy inside
each stage; catalog checks of an order. (The bwt_order probe end to end: tests/e2e/test_staged_runs.py.)"""

import json

import pytest
from helpers import TINY
from pydantic import TypeAdapter

from curriculum.catalog import check_catalog
from curriculum.signals.measurements import Measurements
from schedulers.base import SchedulerError, TaskInfo
from schedulers.build import build_scheduler
from schedulers.spec import ScheduleSpec
from schedulers.staged import stage_lengths

TASKS = [
    TaskInfo("poem", "creative"),
    TaskInfo("sum", "structured"),
    TaskInfo("sort", "structured", requires=("sum",)),
]


def _spec(order: dict, kind: str = "chord", **schedule):
    """A schedule spec, validated by the catalog schema (TASKS are not a catalog's, so no catalog checks)."""
    return TypeAdapter(ScheduleSpec).validate_python(
        {"kind": kind, "sft_batch": 2, "rl_batch": 2, "order": order, **schedule}
    )


def test_stage_lengths_split_evenly_remainder_first():
    assert stage_lengths(10, 3) == [4, 3, 3]  # 10 = 3 * 3 + 1: the first stage gets the extra step
    assert stage_lengths(11, 3) == [4, 4, 3]
    assert stage_lengths(9, 3, [2, 3, 4]) == [2, 3, 4]
    with pytest.raises(SchedulerError, match="stage lengths add up to 10, training.steps is 9"):
        stage_lengths(9, 3, [2, 3, 5])
    with pytest.raises(SchedulerError, match="cannot make 3 stages"):
        stage_lengths(2, 3)


def test_kind_first_stages_restart_the_mix_policy_in_each_stage():
    """kind_first: structured before creative, prerequisites first: sum, sort, poem; 4, 3, 3 steps; chord
    (warmup 1, decay 2, peak 0.8, valley 0.2) restarts in each stage: mu 0, 0.8, 0.2, 0.2 | 0, 0.8, 0.2 | ..."""
    spec = _spec({"kind": "kind_first"}, warmup_steps=1, decay_steps=2, peak=0.8, valley=0.2)
    s = build_scheduler(spec, TASKS, 10)
    ds = [s.decide(k, Measurements(step=k)) for k in range(10)]
    assert [d.stage for d in ds] == ["sum"] * 4 + ["sort"] * 3 + ["poem"] * 3
    # chord at local step t: t=0 -> 0 (warmup start); t=1 -> peak 0.8 (decay start);
    # t=2 -> 0.2 + 0.6 * (1 + cos(pi/2)) / 2 = 0.5; t=3 -> valley 0.2
    assert [d.mu for d in ds] == pytest.approx([0.0, 0.8, 0.5, 0.2, 0.0, 0.8, 0.5, 0.0, 0.8, 0.5])
    assert all(set(d.rl) == {d.stage} and set(d.sft) <= {d.stage} for d in ds)
    assert [d.step for d in ds] == list(range(10))
    assert ds[5].why.startswith("stage 2/3 sort (decay): ")
    assert s.boundaries() == [4, 7, 10]


def test_fixed_order_and_state_round_trip_mid_stage():
    spec = _spec({"kind": "fixed", "tasks": ["sum", "poem", "sort"]}, kind="constant", mu=0.5)
    a = build_scheduler(spec, TASKS, 10)
    first = [a.decide(k, Measurements(step=k)) for k in range(5)]
    assert [d.stage for d in first] == ["sum"] * 4 + ["poem"]
    b = build_scheduler(spec, TASKS, 10)
    b.load_state_dict(json.loads(json.dumps(a.state_dict())))
    assert [b.decide(k, Measurements(step=k)) for k in range(5, 10)] == [
        a.decide(k, Measurements(step=k)) for k in range(5, 10)
    ]


def test_bwt_order_plans_with_the_fallback_until_probed_then_keeps_its_order():
    spec = _spec({"kind": "bwt_order", "probe_steps": 3})
    s = build_scheduler(spec, TASKS, 10)
    assert s.needs_probe() and s.order == ["sum", "sort", "poem"] and s.method == "fallback"
    s.set_order(["sum", "poem", "sort"], "exhaustive", {"D": {}})
    assert not s.needs_probe()
    assert [s.decide(k, Measurements(step=k)).stage for k in (0, 4, 7)] == ["sum", "poem", "sort"]
    fresh = build_scheduler(spec, TASKS, 10)
    fresh.load_state_dict(s.state_dict())  # a resumed run neither probes again nor changes order
    assert not fresh.needs_probe() and fresh.order == ["sum", "poem", "sort"]
    with pytest.raises(SchedulerError, match="every task once"):
        s.set_order(["sum", "sort"], "exhaustive")
    no_budget = build_scheduler(_spec({"kind": "bwt_order", "probe_steps": 0}), TASKS, 10)
    assert not no_budget.needs_probe() and no_budget.order == ["sum", "sort", "poem"]


@pytest.mark.parametrize(
    "order, message",
    [
        ({"kind": "fixed", "tasks": ["sort", "nope"]}, "unknown task(s) nope"),
        ({"kind": "fixed", "tasks": ["sort"]}, "every task needs a stage; missing word"),
        ({"kind": "fixed", "tasks": ["sort", "word", "sort"]}, "listed more than once"),
        ({"kind": "kind_first", "stage_steps": [3, 2]}, "add up to 5, training.steps is 6"),
        ({"kind": "kind_first", "stage_steps": [6]}, "1 stage lengths for 2 tasks"),
        ({"kind": "sideways"}, "schedule.order"),
    ],
)
def test_catalog_rejects_a_bad_order(order, message):
    errors = check_catalog(TINY, [f"schedule.order={json.dumps(order)}"])
    assert any(message in str(e) for e in errors), [str(e) for e in errors]


def test_catalog_rejects_an_order_that_breaks_a_prerequisite():
    errors = check_catalog(
        TINY, ["tasks[0].requires=[word]", 'schedule.order={"kind": "fixed", "tasks": ["sort", "word"]}']
    )
    assert any("task sort requires word, which comes after it" in str(e) for e in errors)


def test_catalog_rejects_hicra_without_planning_markers():
    errors = check_catalog(TINY, ["training.grpo.hicra_alpha=0.2"])
    assert any("HICRA needs planning markers" in str(e) and "training.grpo.hicra_alpha" in str(e) for e in errors)
    assert check_catalog(TINY, ["training.grpo.hicra_alpha=0.2", 'tasks[0].planning=["<"]']) == []
