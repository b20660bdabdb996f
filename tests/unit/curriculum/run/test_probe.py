"""The bwt_order probe's burst policy: the schedule's own mix without its order, or a constant `probe_mu`.
(The probe end to end on the tiny model: tests/e2e/test_staged_runs.py.)"""

from pydantic import TypeAdapter

from curriculum.run.probe import probe_spec
from curriculum.signals.measurements import Measurements
from schedulers.base import TaskInfo
from schedulers.build import build_scheduler
from schedulers.spec import ScheduleSpec


def _spec(order: dict, kind: str = "chord", **schedule):
    return TypeAdapter(ScheduleSpec).validate_python({"kind": kind, "order": order, **schedule})


def test_probe_bursts_use_the_schedules_mix_or_a_constant_probe_mu():
    own = probe_spec(_spec({"kind": "bwt_order"}, peak=0.8))
    assert own.kind == "chord" and own.order is None and own.peak == 0.8
    rl_only = probe_spec(_spec({"kind": "bwt_order", "probe_mu": 0.0}, sft_batch=5, rl_batch=7))
    assert (rl_only.kind, rl_only.mu, rl_only.sft_batch, rl_only.rl_batch) == ("constant", 0.0, 5, 7)
    decision = build_scheduler(rl_only, [TaskInfo("poem", "creative")], 3).decide(0, Measurements())
    assert decision.mu == 0.0 and decision.sft == {} and decision.rl == {"poem": 7}
