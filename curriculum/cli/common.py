"""What several commands share: the catalog with its overrides, and the folder its relative paths start from."""

from __future__ import annotations

from pathlib import Path

from curriculum.catalog import Catalog, load_catalog


def load(path: str | Path, overrides: list[str], steps: int | None = None) -> Catalog:
    """The validated catalog (raises CatalogInvalid with every error); `--steps N` is training.steps=N."""
    return load_catalog(path, [*overrides, *([f"training.steps={steps}"] if steps is not None else [])])


def base_dir(path: str | Path) -> Path:
    """Relative paths in a catalog are taken from its folder."""
    return Path(path).resolve().parent
