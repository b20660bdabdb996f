"""Catalogs using each adaptive kind validate and build; a bad adaptive field is a clear error at its line."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import TypeAdapter

from curriculum.catalog import check_catalog, load_catalog
from curriculum.signals.measurements import Measurements
from schedulers.base import TaskInfo
from schedulers.build import build_scheduler
from schedulers.spec import ScheduleSpec

SPEC = TypeAdapter(ScheduleSpec)


def spec(**fields):
    return SPEC.validate_python(fields)


def _curve(*values, every=10):
    return [(i * every, v) for i, v in enumerate(values)]


# --------------------------------------------------------------------------------------------- catalogs

CATALOG = """\
name: adaptive
model: {kind: builtin, name: tiny-base}
tasks:
  - id: add
    kind: structured
    source: {kind: builtin, name: addition}
    reward: {kind: builtin}
  - id: word
    kind: creative
    source: {kind: builtin, name: word}
    reward: {kind: builtin}
schedule: SCHEDULE
"""


def _catalog(tmp_path: Path, schedule: str) -> Path:
    path = tmp_path / "adaptive.yaml"
    path.write_text(CATALOG.replace("SCHEDULE", schedule), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "schedule, field, value",
    [
        ("{kind: reward_adaptive, tau: 0.6, window: 5}", "tau", 0.6),
        ("{kind: phase_aware, peak: 0.8, valley: 0.1, decay_steps: 20, patience: 3}", "patience", 3),
        ("{kind: entropy_guard, structured_band: [0.1, 1.0], creative_band: [0.5, 2.0]}", "creative_band", (0.5, 2.0)),
        ("{kind: bandit, window: 100, temperature: 0.2, drop_zero_variance: true}", "drop_zero_variance", True),
        ("{kind: gate, gate_below: 0.0, rl_batch: 4}", "gate_below", 0.0),
    ],
)
def test_catalog_with_each_adaptive_kind_validates(tmp_path, schedule, field, value):
    path = _catalog(tmp_path, schedule)
    assert check_catalog(path) == []
    catalog = load_catalog(path)
    assert getattr(catalog.schedule, field) == value
    tasks = [TaskInfo(t.id, t.kind, t.weight) for t in catalog.tasks]
    decision = build_scheduler(catalog.schedule, tasks, catalog.training.steps).decide(0, Measurements())
    assert decision.rl_total == catalog.schedule.rl_batch


@pytest.mark.parametrize(
    "schedule, path, words",
    [
        ("{kind: reward_adaptive, tau: -0.1}", "schedule.tau", "greater than or equal to 0"),
        ("{kind: reward_adaptive, initial_mu: 1.5}", "schedule.initial_mu", "less than or equal to 1"),
        ("{kind: phase_aware, peak: 0.1, valley: 0.5}", "schedule", "valley (0.5) must not exceed peak (0.1)"),
        ("{kind: phase_aware, patience: 0}", "schedule.patience", "greater than 0"),
        ("{kind: entropy_guard, creative_band: [2.0, 0.5]}", "schedule", "creative_band: lo (2.0) must not exceed"),
        ("{kind: entropy_guard, structured_band: [0.1]}", "schedule.structured_band", "required key is missing"),
        ("{kind: entropy_guard, mu: 0.6}", "schedule", "mu (0.6) must not exceed mu_max (0.5)"),
        ("{kind: entropy_guard, boost: 1.0}", "schedule.boost", "greater than 1"),
        ("{kind: bandit, windw: 10}", "schedule.windw", "did you mean 'window'?"),
        ("{kind: bandit, temperature: 0}", "schedule.temperature", "greater than 0"),
        ("{kind: gate, gate_below: high}", "schedule.gate_below", "number"),
    ],
)
def test_bad_adaptive_field_is_a_clear_error(tmp_path, schedule, path, words):
    errors = check_catalog(_catalog(tmp_path, schedule))
    assert [e.path for e in errors] == [path], errors
    assert errors[0].line == 12  # the `schedule:` line of the catalog
    assert words in errors[0].message, errors[0].message
