"""Render what catalogs can name (`curriculum ls`), and the tiny base model's scores (`curriculum build-base`)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table


def render_listing(
    builtin_tasks: list[tuple[str, str, str]], sections: list[tuple[str, list[tuple[str, str]]]], console: Console
) -> None:
    """Built-in tasks as (name, kind, what); then each section's (kind, what) rows."""
    table = Table(title="built-in tasks (source kind: builtin)", title_justify="left")
    for col in ("name", "kind", "what"):
        table.add_column(col)
    for row in builtin_tasks:
        table.add_row(*row)
    console.print(table)
    for title, rows in sections:
        table = Table(title=title, title_justify="left")
        table.add_column("kind")
        table.add_column("what")
        for row in rows:
            table.add_row(*row)
        console.print(table)
    console.print("schedule presets: chord-mu, chord-phi (schedule.kind: chord, preset: ...)")


def render_base_scores(scores: dict[str, dict[str, float]], console: Console) -> None:
    console.print("greedy held-out score   by itself   started with 'work: '")
    for task, score in scores.items():
        console.print(f"{task:22s}  {score['default']:9.3f}   {score['worked']:9.3f}")
