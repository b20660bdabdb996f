"""Schedulers: policies that turn measurements into decisions, one per training step.

- `schedulers.spec`: the schedule specs of a catalog, one per policy, and the task orders.
- `schedulers.base`: the `Scheduler` protocol, `TaskInfo`, `SchedulerError`, the `Mixer` rounding rule.
- `schedulers.sequential`, `schedulers.constant`, `schedulers.chord`: fixed schedules, one per module.
- `schedulers.reward_adaptive`, `schedulers.phase_aware`, `schedulers.entropy_guard`, `schedulers.bandit`,
  `schedulers.gate`: adaptive policies that read the measurements (per-task mu, RL shares, per-prompt gate).
- `schedulers.staged`: any policy inside task stages (`schedule.order`).
- `schedulers.registry`: the `SCHEDULERS` dict; `schedulers.build` imports the policies and builds one.

A scheduler sees `curriculum.signals.measurements.Measurements` and returns `curriculum.records.Decision`;
this package imports only the leaves of `curriculum` and itself.
"""
