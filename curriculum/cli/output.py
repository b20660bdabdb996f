"""The one output helper of the CLI: a rich console, and the way expected failures end (exit 2)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from curriculum.errors import UserError

# soft_wrap: one error stays one line when piped (grep, editors jumping to file:line)
console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_USAGE = 2


def fail(error: UserError) -> int:
    """Print an expected failure, `error:` before its first line, no traceback; the exit code. Under torchrun each
    rank that fails says which it is."""
    import os

    rank = escape(f"[rank {os.environ.get('RANK', '0')}] ") if int(os.environ.get("WORLD_SIZE", "1")) > 1 else ""
    for i, line in enumerate(error.lines):
        err_console.print(f"[red]{rank}error:[/] {escape(line)}" if i == 0 else escape(line))
    return EXIT_USAGE


def ok(message: str) -> None:
    console.print(f"[green]OK[/] {escape(message)}")
