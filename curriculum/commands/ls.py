"""List what catalogs can name: built-in tasks, data sources, rewards, schedules, models."""

from __future__ import annotations

import argparse
import typing

from rich.table import Table

from curriculum import schema
from curriculum.console import console

HELP = "list built-in tasks, data sources, rewards and schedulers"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def _variants(union: object) -> list[tuple[str, str]]:
    """(kind, first docstring line) of every member of a `kind`-tagged union in the schema."""
    members = typing.get_args(typing.get_args(union)[0])
    out = []
    for model in members:
        doc = (model.__doc__ or "").strip().split("\n")[0]
        for kind in typing.get_args(model.model_fields["kind"].annotation):
            out.append((kind, doc))
    return out


def run(args: argparse.Namespace) -> int:
    from schedulers.registry import SCHEDULERS
    from schedulers.registry import load_plugins as load_schedulers
    from tasks.registry import BUILTIN_TASKS, REWARDS, SOURCES
    from tasks.registry import load_plugins as load_tasks

    load_tasks()
    load_schedulers()
    table = Table(title="built-in tasks (source kind: builtin)", title_justify="left")
    for col in ("name", "kind", "what"):
        table.add_column(col)
    for name, gen in BUILTIN_TASKS.items():
        table.add_row(name, gen.kind, gen.description)
    console.print(table)
    sections = [
        ("data sources (tasks[].source.kind)", schema.SourceSpec, SOURCES),
        ("rewards (tasks[].reward.kind)", schema.RewardSpec, REWARDS),
        ("schedulers (schedule.kind)", schema.ScheduleSpec, SCHEDULERS),
        ("task orders (schedule.order.kind): stages of one task, the scheduler inside each", schema.OrderSpec, None),
        ("models (model.kind)", schema.ModelSpec, None),
    ]
    for title, union, registry in sections:
        table = Table(title=title, title_justify="left")
        table.add_column("kind")
        table.add_column("what")
        for kind, doc in _variants(union):
            if registry is None or kind in registry:
                table.add_row(kind, doc)
        console.print(table)
    console.print("schedule presets: chord-mu, chord-phi (schedule.kind: chord, preset: ...)")
    return 0
