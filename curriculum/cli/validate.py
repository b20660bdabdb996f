"""Check a catalog: print OK, or every error (file:line: yaml.path: message) and exit 2.

No user code runs: a `python` source or reward (`function: module:function`) is checked by finding its
module's file without importing it, and the output says so; `--import` imports it as `train` does (the
module's code runs), which also checks that the function exists.
"""

from __future__ import annotations

import argparse

from curriculum.catalog import Catalog, load_catalog
from curriculum.cli.common import base_dir
from curriculum.cli.output import console, ok
from tasks.sources import SourceError, find_function

HELP = "check a catalog and print every error at once"
EXAMPLES = """examples:
  curriculum validate catalogs/demo.yaml
  curriculum validate my.yaml --import    # also import python: sources and rewards
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("catalog", help="catalog YAML file")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="overrides, e.g. training.lr=3e-4")
    parser.add_argument(
        "--import",
        dest="import_code",
        action="store_true",
        help="import the python sources and rewards (runs their code) to check that each function exists; "
        "by default only their module files are found",
    )


def run(args: argparse.Namespace) -> int:
    catalog = load_catalog(args.catalog, args.overrides, import_code=args.import_code)  # raises CatalogInvalid
    ok(args.catalog)
    if not args.import_code:
        for where, function in user_functions(catalog):
            try:
                origin = find_function(function, base_dir(args.catalog))
            except SourceError:  # reported as an error above; cannot happen on a valid catalog
                continue
            console.print(
                f"  {where}: {function}: module found ({origin}); the function itself was not imported "
                "(user code; `curriculum validate --import` imports it)",
                markup=False,
            )
    return 0


def user_functions(catalog: Catalog) -> list[tuple[str, str]]:
    """(YAML path, `module:function`) of every `python` source and reward: the user code a run imports."""
    found = []
    for i, task in enumerate(catalog.tasks):
        sources = {"source": task.source, "sft.source": task.sft.source, "rl.source": task.rl.source}
        for where, source in {**sources, "eval.source": task.eval.source}.items():
            if source is not None and source.kind == "python":
                found.append((f"tasks[{i}].{where}.function", source.function))
        if task.reward.kind == "python":
            found.append((f"tasks[{i}].reward.function", task.reward.function))
    return found
