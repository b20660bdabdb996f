"""Load and check a catalog: YAML text -> `Catalog`, or every error at once.

`load_catalog(path, overrides)` parses the YAML (keeping the line of every key), applies command-line
overrides (`training.lr=3e-4`, `tasks[0].weight=2`), validates against the schema, and then runs the
checks that need more than the schema (`curriculum.catalog.checks`): unique task ids, known
prerequisites without cycles, known built-in tasks, data files that exist, built-in rewards on built-in
data, sane batch sizes. Every problem becomes a `CatalogError` with file, line, YAML path and what was
expected; they are raised together in `CatalogInvalid`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from curriculum.catalog.checks import semantic_problems
from curriculum.catalog.errors import kind_tags, model_at, schema_errors
from curriculum.catalog.schema import Catalog
from curriculum.catalog.yamlio import (
    CatalogError,
    CatalogInvalid,
    LineMap,
    PathT,
    apply_override,
    format_path,
    load_with_lines,
    parse_path,
    parse_yaml,
    read_catalog_text,
)

OVERRIDES = "command line"


def load_catalog(
    path: str | Path,
    overrides: list[str] | tuple[str, ...] = (),
    base_dir: Path | None = None,
    import_code: bool = True,
) -> Catalog:
    """The validated catalog at `path` with `key=value` overrides applied; raises CatalogInvalid.
    Relative data paths are taken from `base_dir` (default: the catalog's folder). `import_code`: import
    the `python` sources and rewards (user code runs) rather than only find their module files."""
    catalog, errors = _load(Path(path), list(overrides), base_dir, import_code)
    if errors:
        raise CatalogInvalid(errors, str(path))
    assert catalog is not None
    return catalog


def check_catalog(
    path: str | Path, overrides: list[str] | tuple[str, ...] = (), import_code: bool = False
) -> list[CatalogError]:
    """Every error in the catalog (an empty list when it is valid); by default no user code is imported."""
    return _load(Path(path), list(overrides), import_code=import_code)[1]


def _load(
    path: Path, overrides: list[str], base_dir: Path | None = None, import_code: bool = False
) -> tuple[Catalog | None, list[CatalogError]]:
    file = str(path)
    try:
        data, lines, found = load_with_lines(read_catalog_text(path), file)
    except CatalogInvalid as exc:
        return None, exc.errors
    if not isinstance(data, dict):
        got = "an empty file" if data is None else f"a {type(data).__name__}"
        return None, [CatalogError(file, 1, "", f"a catalog is a YAML mapping (name, model, tasks, ...); got {got}")]

    errors, overridden = _apply_overrides(data, overrides)
    try:
        catalog: Catalog | None = Catalog.model_validate(data)
    except ValidationError as exc:
        catalog = None
        found += schema_errors(exc, data, lines, file)
    found += [
        CatalogError(file, lines.line(p), format_path(p), message)
        for p, message in semantic_problems(data, base_dir or path.parent.resolve(), import_code)
    ]
    for e in found:  # an error inside an overridden value belongs to the command line, not the file
        hit = next((o for o in overridden if _from_override(e.path, o, lines)), None)
        errors.append(CatalogError(OVERRIDES, None, e.path, f"{e.message} (override {hit}=...)") if hit else e)
    # command-line errors first, then the file's in line order
    ordered = sorted(_dedupe(errors), key=lambda e: (e.file != OVERRIDES, e.line or 0))
    return catalog, ordered


def _drop_foreign_keys(data: dict, path: PathT) -> None:
    """After `<section>.kind=new` the section keeps only the keys the new kind has: switching
    `schedule.kind=sequential` on a chord schedule keeps `sft_batch`, drops `peak`."""
    node: Any = data
    for part in path:
        node = node[part]
    model = model_at(path, data)
    if isinstance(node, dict) and model is not None and node.get("kind") in kind_tags(model):
        for key in [k for k in node if k not in model.model_fields]:
            del node[key]


def _from_override(error_path: str, override: str, lines: LineMap) -> bool:
    """Whether an error at `error_path` is about what the override `override` set: inside its value,
    or a key the override created (not in the file)."""
    if error_path == override or error_path.startswith((override + ".", override + "[")):
        return True
    created = override.startswith((error_path + ".", error_path + "["))
    return created and parse_path(error_path) not in lines.lines if error_path else False


def _dedupe(errors: list[CatalogError]) -> list[CatalogError]:
    seen, out = set(), []
    for e in errors:
        if (e.path, e.message) not in seen:
            seen.add((e.path, e.message))
            out.append(e)
    return out


def _apply_overrides(data: dict, overrides: list[str]) -> tuple[list[CatalogError], list[str]]:
    """Apply `key=value` overrides in order (values are YAML); returns errors and the paths set."""
    errors, applied = [], []
    for item in overrides:
        key, eq, raw = item.partition("=")
        if not eq:
            errors.append(CatalogError(OVERRIDES, None, item, "an override is key=value, e.g. training.lr=3e-4"))
            continue
        try:
            path = parse_path(key.strip())
            apply_override(data, path, parse_yaml(raw, OVERRIDES)[0] if raw.strip() else None)
            if path[-1] == "kind":
                _drop_foreign_keys(data, path[:-1])
        except (ValueError, KeyError, IndexError, TypeError, CatalogInvalid) as exc:
            why = exc.errors[0].message if isinstance(exc, CatalogInvalid) else exc
            errors.append(CatalogError(OVERRIDES, None, key, f"cannot apply override {item!r}: {why}"))
            continue
        applied.append(format_path(path))
    return errors, applied
