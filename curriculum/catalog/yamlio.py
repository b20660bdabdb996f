"""YAML with positions: load a document together with the line of every key, and report errors as
`file:line: yaml.path: message`.

`load_with_lines` walks the composed node tree beside the loaded data, recording for each path
(`("tasks", 2, "reward", "kind")`) the line where its key (or list item) starts, so that a schema error
found later can point back at the text. Duplicate keys, which plain `yaml.safe_load` silently
overwrites, are reported here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from curriculum.errors import UserError

PathT = tuple[str | int, ...]


@dataclass(frozen=True)
class CatalogError:
    """One problem with a catalog: where (file, line, YAML path) and what was expected."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class CatalogInvalid(UserError):
    """Raised with every error found in a catalog, all at once; `source` names the file for the first line."""

    def __init__(self, errors: list[CatalogError], source: str = ""):
        self.errors = errors
        count = f"{len(errors)} error{'s' if len(errors) != 1 else ''}"
        super().__init__(f"{source}: {count}" if source else count, *(str(e) for e in errors))


def format_path(path: PathT) -> str:
    """`("tasks", 2, "reward", "kind")` -> `tasks[2].reward.kind`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_PATH_PART = re.compile(r"(?:^|\.)([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]")


def parse_path(text: str) -> PathT:
    """`tasks[2].reward.kind` -> `("tasks", 2, "reward", "kind")`; raises ValueError on bad syntax."""
    parts: list[str | int] = []
    pos = 0
    while pos < len(text):
        match = _PATH_PART.match(text, pos)
        if match is None or (match.group(1) and (text[pos] == ".") != (pos > 0)):
            raise ValueError(f"bad key path {text!r} (expected e.g. training.lr or tasks[0].weight)")
        parts.append(match.group(1) if match.group(1) else int(match.group(2)))
        pos = match.end()
    if not parts or isinstance(parts[0], int):
        raise ValueError(f"bad key path {text!r} (expected e.g. training.lr or tasks[0].weight)")
    return tuple(parts)


class LineMap:
    """Line numbers (1-based) of the keys and items of a YAML document, by path."""

    def __init__(self, lines: dict[PathT, int]):
        self.lines = lines

    def line(self, path: PathT) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None


def _walk(node: yaml.Node, path: PathT, lines: dict[PathT, int], dups: list[tuple[PathT, int]]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            child = (*path, key)
            if key in seen:
                dups.append((child, key_node.start_mark.line + 1))
            seen.add(key)
            lines[child] = key_node.start_mark.line + 1
            _walk(value_node, child, lines, dups)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            lines[child] = item.start_mark.line + 1
            _walk(item, child, lines, dups)


def load_with_lines(text: str, file: str) -> tuple[Any, LineMap, list[CatalogError]]:
    """Parse YAML text into (data, line map, duplicate-key errors).

    Raises CatalogInvalid on a syntax error, with the line where the parser stopped and, when the
    parser says so, the line where the unclosed construct started."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and context_mark is not None and context_mark.line + 1 != line:
            context = f"{context} at line {context_mark.line + 1}"
        message = f"YAML syntax error: {problem}" + (f" ({context})" if context else "")
        raise CatalogInvalid([CatalogError(file, line, "", message)]) from None
    lines: dict[PathT, int] = {}
    dups: list[tuple[PathT, int]] = []
    if node is not None:
        lines[()] = node.start_mark.line + 1
        _walk(node, (), lines, dups)
    errors = [CatalogError(file, line, format_path(p), "duplicate key (YAML keeps only the last)") for p, line in dups]
    return data, LineMap(lines), errors


def read_catalog_text(path: str | Path) -> str:
    """The catalog file's text, or CatalogInvalid naming the file."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CatalogInvalid([CatalogError(str(path), None, "", "no such file")]) from None
    except (IsADirectoryError, UnicodeDecodeError, PermissionError) as exc:
        raise CatalogInvalid([CatalogError(str(path), None, "", f"cannot read: {exc}")]) from None


def apply_override(data: dict, path: PathT, value: Any) -> None:
    """Set `data[path] = value`, creating mappings on the way; raises ValueError saying what is wrong."""
    node: Any = data
    for depth, part in enumerate(path):
        where = format_path(path[:depth]) or "the catalog"
        last = depth == len(path) - 1
        if isinstance(part, int):
            if not isinstance(node, list):
                raise ValueError(f"{where} is not a list")
            if not 0 <= part < len(node):
                raise ValueError(f"{where} has {len(node)} item{'s' if len(node) != 1 else ''}; no [{part}]")
        elif not isinstance(node, dict):
            raise ValueError(f"{where} is not a mapping")
        if last:
            node[part] = value
        elif isinstance(part, int):
            node = node[part]
        else:
            node = node.setdefault(part, {})
