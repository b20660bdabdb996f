"""One module per CLI command: `HELP`, `add_arguments(parser)`, `run(args) -> exit code`."""

from __future__ import annotations

from pathlib import Path

from curriculum.console import Failure
from curriculum.schema import Catalog


def catalog_or_fail(path: str | Path, overrides: list[str], base: Path | None = None) -> Catalog:
    """The validated catalog, or a Failure listing every error (relative data paths from `base`)."""
    from curriculum.catalog import load_catalog
    from curriculum.yamlio import CatalogInvalid

    try:
        return load_catalog(path, overrides, base)
    except CatalogInvalid as exc:
        count = f"{len(exc.errors)} error{'s' if len(exc.errors) > 1 else ''}"
        raise Failure(f"{path}: {count}", *(str(e) for e in exc.errors)) from None


def base_dir(path: str) -> Path:
    """Relative paths in a catalog are taken from its folder."""
    return Path(path).resolve().parent
