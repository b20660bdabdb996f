"""The scheduler registry: schedule kind -> builder `(spec, tasks, total_steps) -> Scheduler`.

A plain dict filled by the `@scheduler(kind)` decorator in each policy's module; this module imports no
policy. `schedulers.build` imports them all, so `SCHEDULERS` is full once it is imported.
"""

from __future__ import annotations

from typing import Any, Callable

from schedulers.base import Scheduler, TaskInfo

Builder = Callable[[Any, list[TaskInfo], int], Scheduler]  # (the kind's spec, tasks, total steps)
SCHEDULERS: dict[str, Builder] = {}


def scheduler(kind: str) -> Callable[[Builder], Builder]:
    """Register a builder for a schedule kind."""

    def register(fn: Builder) -> Builder:
        SCHEDULERS[kind] = fn
        return fn

    return register
