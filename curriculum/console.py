"""The one output helper of the CLI: a rich console, and the way expected failures end (exit 2)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

# soft_wrap: one error stays one line when piped (grep, editors jumping to file:line)
console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_USAGE = 2


class Failure(Exception):
    """An expected failure: its message is printed without a traceback and the command exits 2."""

    def __init__(self, *lines: str):
        self.lines = lines
        super().__init__("\n".join(lines))


def fail(failure: Failure) -> int:
    for line in failure.lines:
        err_console.print(f"[red]error:[/] {escape(line)}" if line is failure.lines[0] else escape(line))
    return EXIT_USAGE


def ok(message: str) -> None:
    console.print(f"[green]OK[/] {escape(message)}")
