"""Schedulers: policies that turn measurements into decisions, one per training step.

- `schedulers.base`: `Decision`, `Measurements`, `TaskInfo`, the `Scheduler` protocol, the `Mixer`
  rounding rule.
- `schedulers.sequential`, `schedulers.constant`, `schedulers.chord`: one policy per module.
- `schedulers.registry`: `build_scheduler(spec, tasks, total_steps)` and the `SCHEDULERS` dict.
"""
