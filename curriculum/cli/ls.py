"""List what catalogs can name: built-in tasks, data sources, rewards, schedules, task orders, models."""

from __future__ import annotations

import argparse
import typing

from curriculum.cli.output import console

HELP = "list built-in tasks, data sources, rewards and schedulers"
EXAMPLES = """examples:
  curriculum ls
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def _variants(union: object, registry: dict | None) -> list[tuple[str, str]]:
    """(kind, first docstring line) of every member of a `kind`-tagged union (registered, when a registry
    is given)."""
    members = typing.get_args(typing.get_args(union)[0])
    out = []
    for model in members:
        doc = (model.__doc__ or "").strip().split("\n")[0]
        for kind in typing.get_args(model.model_fields["kind"].annotation):
            if registry is None or kind in registry:
                out.append((kind, doc))
    return out


def run(args: argparse.Namespace) -> int:
    from curriculum.views.listing import render_listing
    from schedulers.build import SCHEDULERS
    from schedulers.spec import OrderSpec, ScheduleSpec
    from tasks.build import BUILTIN_TASKS, REWARDS, SOURCES
    from tasks.spec import RewardSpec, SourceSpec
    from trainer.config import ModelSpec

    builtin = [(name, gen.kind, gen.description) for name, gen in BUILTIN_TASKS.items()]
    sections = [
        ("data sources (tasks[].source.kind)", _variants(SourceSpec, SOURCES)),
        ("rewards (tasks[].reward.kind)", _variants(RewardSpec, REWARDS)),
        ("schedulers (schedule.kind)", _variants(ScheduleSpec, SCHEDULERS)),
        (
            "task orders (schedule.order.kind): stages of one task, the scheduler inside each",
            _variants(OrderSpec, None),
        ),
        ("models (model.kind)", _variants(ModelSpec, None)),
    ]
    render_listing(builtin, sections, console)
    return 0
