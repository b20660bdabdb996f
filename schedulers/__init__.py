"""Schedulers: policies that turn measurements into decisions, one per training step.

- `schedulers.base`: `Decision`, `Measurements`, `TaskInfo`, the `Scheduler` protocol, the `Mixer`
  rounding rule.
- `schedulers.sequential`, `schedulers.constant`, `schedulers.chord`: fixed schedules, one per module.
- `schedulers.reward_adaptive`, `schedulers.phase_aware`, `schedulers.entropy_guard`, `schedulers.bandit`,
  `schedulers.gate`: adaptive policies that read the measurements (per-task mu, RL shares, per-prompt gate).
- `schedulers.registry`: `build_scheduler(spec, tasks, total_steps)` and the `SCHEDULERS` dict.
"""
