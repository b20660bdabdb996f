"""Check a catalog: print OK, or every error (file:line: yaml.path: message) and exit 2."""

from __future__ import annotations

import argparse

from curriculum.catalog import CatalogInvalid, check_catalog
from curriculum.cli.output import ok

HELP = "check a catalog and print every error at once"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("catalog", help="catalog YAML file")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="overrides, e.g. training.lr=3e-4")


def run(args: argparse.Namespace) -> int:
    errors = check_catalog(args.catalog, args.overrides)
    if errors:
        raise CatalogInvalid(errors, args.catalog)
    ok(args.catalog)
    return 0
