"""The scheduler registry: schedule kind -> builder `(spec, tasks, total_steps) -> Scheduler`."""

from __future__ import annotations

from typing import Any, Callable

from schedulers.base import Scheduler, TaskInfo

SCHEDULERS: dict[str, Callable[[Any, list[TaskInfo], int], Scheduler]] = {}


def scheduler(kind: str) -> Callable[[Callable], Callable]:
    """Register a builder for a schedule kind."""

    def register(fn: Callable) -> Callable:
        SCHEDULERS[kind] = fn
        return fn

    return register


def load_plugins() -> None:
    from schedulers import (  # noqa: F401
        bandit,
        chord,
        constant,
        entropy_guard,
        gate,
        phase_aware,
        reward_adaptive,
        sequential,
    )


def build_scheduler(spec: Any, tasks: list[TaskInfo], total_steps: int) -> Scheduler:
    """The scheduler for a catalog's `schedule` spec; raises SchedulerError if it cannot run on `tasks`.
    A spec with an `order` runs its policy inside task stages (`schedulers.staged`)."""
    load_plugins()
    if getattr(spec, "order", None) is not None:
        from schedulers.staged import Staged

        return Staged(spec, tasks, total_steps, build_scheduler)  # its inner spec has no order: no recursion
    return SCHEDULERS[spec.kind](spec, tasks, total_steps)
