"""Build the scheduler a catalog's `schedule` asks for. The one build module of `schedulers/`: it imports
every policy module, so `SCHEDULERS` is full.

A spec with an `order` runs its policy inside task stages (`schedulers.staged.Staged`), built here too.
"""

from __future__ import annotations

from schedulers import (  # noqa: F401  (the policy modules: each registers its builder)
    bandit,
    chord,
    constant,
    entropy_guard,
    gate,
    phase_aware,
    reward_adaptive,
    sequential,
)
from schedulers.base import Scheduler, TaskInfo
from schedulers.registry import SCHEDULERS
from schedulers.spec import ScheduleSpec
from schedulers.staged import Staged

__all__ = ["SCHEDULERS", "build_scheduler"]


def build_scheduler(spec: ScheduleSpec, tasks: list[TaskInfo], total_steps: int) -> Scheduler:
    """The scheduler for `spec`; raises SchedulerError if it cannot run on `tasks`."""
    if spec.order is not None:
        return Staged(spec, tasks, total_steps, build_scheduler)  # its inner spec has no order: no recursion
    return SCHEDULERS[spec.kind](spec, tasks, total_steps)
