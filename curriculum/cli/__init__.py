"""The `curriculum` command: validate, plan, train, experiment, inspect, compare, plot, ls, build-base. One small module
per command (`HELP`, `EXAMPLES`, `add_arguments(parser)`, `run(args) -> exit code`); this module parses and dispatches.
A command's old name stays as an alias (ALIASES), so scripts that use it keep working.

Expected failures (a bad catalog, missing data, an unavailable device: any `curriculum.errors.UserError`)
are caught here, in one place: one clear message, exit 2. Only a bug shows a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from curriculum.cli.output import fail
from curriculum.errors import UserError

COMMANDS = ("validate", "plan", "train", "experiment", "inspect", "compare", "plot", "ls", "build_base")
ALIASES = {"inspect": ["report"]}  # command -> its other names


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="curriculum",
        description="Curriculum and data-scheduling engine for LLM post-training: SFT and RL on one measured schedule.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"curriculum.cli.{name}")
        command = sub.add_parser(
            name.replace("_", "-"),
            aliases=ALIASES.get(name, []),
            help=module.HELP,
            description=module.__doc__,
            epilog=module.EXAMPLES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(command)
        command.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    import os

    # our own progress bars are the only ones (read by transformers and huggingface_hub when they are imported;
    # set here so that commands which never need them, validate and ls, do not import them)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    parser = build_parser()
    # `key=value` overrides may come before or after options: argparse leaves late ones unparsed.
    args, extra = parser.parse_known_args(argv)
    if extra and (not hasattr(args, "overrides") or any(a.startswith("-") or "=" not in a for a in extra)):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:
        args.overrides = [*args.overrides, *extra]
    try:
        return args.run(args) or 0
    except UserError as error:
        return fail(error)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
