"""Registries of the task side: built-in task generators, data-source loaders and reward builders.

Each is a plain dict filled by a decorator in the module that defines the plugin. This module imports
no plugin: `tasks.build` (the one build module) imports the plugin modules, so a registry is full once
`tasks.build` is imported. `curriculum ls` prints them; the checks list their keys when a name is unknown.
"""

from __future__ import annotations

from typing import Callable, TypeVar

T = TypeVar("T")

BUILTIN_TASKS: dict[str, object] = {}  # name -> Generator (tasks.builtin)
SOURCES: dict[str, Callable] = {}  # source kind -> loader (tasks.sources)
REWARDS: dict[str, Callable] = {}  # reward kind -> builder (tasks.rewards)


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
