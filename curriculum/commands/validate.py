"""Check a catalog: print OK, or every error (file:line: yaml.path: message) and exit 2."""

from __future__ import annotations

import argparse

from curriculum.commands import catalog_or_fail
from curriculum.console import ok

HELP = "check a catalog and print every error at once"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("catalog", help="catalog YAML file")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="overrides, e.g. training.lr=3e-4")


def run(args: argparse.Namespace) -> int:
    catalog_or_fail(args.catalog, args.overrides)
    ok(args.catalog)
    return 0
