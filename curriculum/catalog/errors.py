"""Pydantic's validation errors, said as catalog errors: `file:line: yaml.path: message`.

A pydantic location mixes data keys with union-member tags (`exact`, `str`); these functions keep the
steps that exist in the data, find the schema model at a path (choosing union members by `kind`), and
word the common errors (missing key, unknown key with a close match, unknown kind) for a person.
"""

from __future__ import annotations

import difflib
import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from curriculum.catalog.schema import Catalog
from curriculum.catalog.yamlio import CatalogError, LineMap, PathT, format_path


def _data_path(loc: tuple, data: Any, keep_last: bool) -> PathT:
    """Pydantic's loc reduced to the steps that exist in the data: union-member tags (`exact`, `str`,
    `dict[str,str]`) are dropped. `keep_last` keeps a final key that is not in the data (a missing or an
    unknown key)."""
    path: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            node = node[part]
            path.append(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
            path.append(part)
        elif isinstance(node, dict) and isinstance(part, str) and node.get("kind") == part:
            continue  # the discriminator value pydantic inserts for a tagged union
        elif keep_last and isinstance(node, dict) and i == len(loc) - 1 and isinstance(part, str):
            path.append(part)
        else:
            break
    return tuple(path)


def _unwrap(annotation: Any) -> list[Any]:
    """The model classes an annotation may hold (through Annotated, Optional, Union, list)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _unwrap(get_args(annotation)[0])
    if origin in (Union, types.UnionType, list):
        return [m for arg in get_args(annotation) for m in _unwrap(arg)]
    return [annotation] if isinstance(annotation, type) and issubclass(annotation, BaseModel) else []


def model_at(path: PathT, data: Any) -> type[BaseModel] | None:
    """The schema model that describes the mapping at `path` (choosing union members by `kind`)."""
    model: type[BaseModel] | None = Catalog
    node = data
    for part in path:
        if model is None:
            return None
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and part < len(node) else None
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        node = node.get(part) if isinstance(node, dict) else None
        candidates = _unwrap(field.annotation)
        kind = node.get("kind") if isinstance(node, dict) else None
        model = next((m for m in candidates if kind in kind_tags(m)), candidates[0] if len(candidates) == 1 else None)
    return model


def _field_models(path: PathT, data: Any) -> list[type[BaseModel]]:
    """The models a field at `path` may hold (the members of a tagged union)."""
    parent = model_at(path[:-1], data) if path and isinstance(path[-1], str) else None
    field = parent.model_fields.get(path[-1]) if parent else None
    return _unwrap(field.annotation) if field else []


def kind_tags(model: type[BaseModel]) -> tuple:
    field = model.model_fields.get("kind")
    return get_args(field.annotation) if field is not None else ()


def schema_errors(exc: ValidationError, data: dict, lines: LineMap, file: str) -> list[CatalogError]:
    grouped: dict[PathT, list[str]] = {}
    for err in exc.errors():
        kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
        path = _data_path(err["loc"], data, keep_last=kind in ("missing", "extra_forbidden"))
        if kind == "missing":
            message = "required key is missing"
        elif kind == "extra_forbidden":
            model = model_at(path[:-1], data)
            known = [f for f in model.model_fields] if model else []
            close = difflib.get_close_matches(str(path[-1]), known, n=1)
            message = f"unknown key {path[-1]!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
            if known:
                message += f"; expected one of: {', '.join(known)}"
        elif kind == "union_tag_invalid":
            path = (*path, "kind")
            message = f"unknown kind {ctx.get('tag')!r}; known: {ctx.get('expected_tags')}"
        elif kind == "union_tag_not_found":
            tags = [t for m in _field_models(path, data) for t in kind_tags(m)]
            path = (*path, "kind")
            message = "required key `kind` is missing" + (f"; one of: {', '.join(tags)}" if tags else "")
        elif kind == "finite_number":  # Spec refuses inf and nan in every float field
            message = f"must be a finite number (got {_shown(value)})"
        elif kind == "value_error":
            message = err["msg"].removeprefix("Value error, ")
        else:
            message = err["msg"]
            if not isinstance(value, (dict, list)):
                message += f" (got {_shown(value)})"
        grouped.setdefault(path, [])
        if message not in grouped[path]:
            grouped[path].append(message)
    return [CatalogError(file, lines.line(p), format_path(p), "; or ".join(m)) for p, m in grouped.items()]


def _shown(value: Any, width: int = 60) -> str:
    """The value as the message quotes it, cut to `width` characters (a careless paste can be megabytes)."""
    text = repr(value)
    return text if len(text) <= width else f"{text[:width]}... ({len(text):,} characters)"
