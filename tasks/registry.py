"""Registries of the task side: built-in task generators, data-source loaders and reward builders.

Each is a plain dict filled by a decorator in the module that defines the plugin. This module imports
no plugin: `tasks.build` (the one build module) imports the plugin modules, so a registry is full once
`tasks.build` is imported. `curriculum ls` prints them; the checks list their keys when a name is unknown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, TypeVar

from tasks.base import Extract, Generator, Record, Reward

T = TypeVar("T")
# (the kind's source spec, split, base folder of relative paths, seed, rows a generator makes) -> rows
Loader = Callable[[Any, str, Path, int, int], list[Record]]
# (the kind's reward spec, the task's built-in generator or None, base folder) -> (reward, answer extraction)
RewardBuilder = Callable[[Any, "str | None", Path], tuple[Reward, Extract]]

BUILTIN_TASKS: dict[str, Generator] = {}  # name -> generator (tasks.builtin)
SOURCES: dict[str, Loader] = {}  # source kind -> loader (tasks.sources)
REWARDS: dict[str, RewardBuilder] = {}  # reward kind -> builder (tasks.rewards)


def builtin_task(cls: type[T]) -> type[T]:
    """Register a built-in task generator class under its `name`."""
    BUILTIN_TASKS[cls.name] = cls()  # type: ignore[attr-defined]
    return cls


def source(*kinds: str) -> Callable[[Callable], Callable]:
    """Register a loader for one or more source kinds."""

    def register(fn: Callable) -> Callable:
        for kind in kinds:
            SOURCES[kind] = fn
        return fn

    return register


def reward(kind: str) -> Callable[[Callable], Callable]:
    """Register a reward builder for a reward kind."""

    def register(fn: Callable) -> Callable:
        REWARDS[kind] = fn
        return fn

    return register
