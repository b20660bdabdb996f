"""What several commands share: the catalog with its overrides, and the folder its relative paths start from."""

from __future__ import annotations

from pathlib import Path

from curriculum.catalog import Catalog, load_catalog


def with_steps(overrides: list[str], steps: int | None) -> list[str]:
    """The overrides with `--steps N` as the last one, training.steps=N."""
    return [*overrides, *([f"training.steps={steps}"] if steps is not None else [])]


def load(path: str | Path, overrides: list[str], steps: int | None = None) -> Catalog:
    """The validated catalog (raises CatalogInvalid with every error)."""
    return load_catalog(path, with_steps(overrides, steps))


def base_dir(path: str | Path) -> Path:
    """Relative paths in a catalog are taken from its folder."""
    return Path(path).resolve().parent
