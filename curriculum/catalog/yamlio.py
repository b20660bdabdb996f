"""YAML with positions: load a document together with the line of every key, and report errors as
`file:line: yaml.path: message`.

`load_with_lines` walks the composed node tree beside the loaded data, recording for each path
(`("tasks", 2, "reward", "kind")`) the line where its key (or list item) starts, so that a schema error
found later can point back at the text. Duplicate keys, which plain `yaml.safe_load` silently
overwrites, are reported here.

Loading is bounded, so a careless or hostile file ends in one error naming its line within about a
second, never a RecursionError, a MemoryError or a hang: a catalog file is at most MAX_BYTES; before
anything is built, one pass over the parser's events refuses nesting deeper than MAX_DEPTH, an alias
inside the node it names (a recursive structure), and more than MAX_NODES keys, values and items once
aliases are expanded (a "billion laughs"). Only safe tags are read (no python objects).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from curriculum.errors import UserError

PathT = tuple[str | int, ...]

MAX_BYTES = 10 * 2**20  # a catalog file is a few KB
MAX_DEPTH = 100  # nested mappings and lists; a catalog needs about 6
MAX_NODES = 50_000  # keys, values and list items, an alias counting as all it repeats; a catalog has hundreds
MAX_SHOWN = 50  # errors printed; the rest are counted


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
        count = f"{len(errors):,} error{'s' if len(errors) != 1 else ''}"
        shown = [str(e) for e in errors[:MAX_SHOWN]]
        if len(errors) > MAX_SHOWN:
            shown.append(f"... and {len(errors) - MAX_SHOWN:,} more")
        super().__init__(f"{source}: {count}" if source else count, *shown)


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


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's parser when PyYAML has it: 10x faster
    """The safe loader (no python tags) that says where a scalar cannot be read (`2020-13-45`, `!!int x`)."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:
            value = repr(str(node.value)[:60]) if isinstance(node, yaml.ScalarNode) else "the node"
            kind = node.tag.rpartition(":")[2]  # tag:yaml.org,2002:timestamp -> timestamp
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {value} as {kind}: {exc}", node.start_mark
            ) from None


_DEEP = f"nested deeper than {MAX_DEPTH} levels of mappings and lists (the limit)"


class _Refused(Exception):
    """The document is past a loading limit; `line` is where."""

    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line, self.message = line, message


def _check_shape(text: str) -> None:
    """One pass over the parser's events (no nodes built, no recursion): raises _Refused for nesting deeper
    than MAX_DEPTH, a recursive or unknown alias, or more than MAX_NODES nodes once aliases are expanded.
    Syntax errors are raised as the parser's YAMLError."""
    frames: list[list] = []  # open mappings and lists: [its nodes so far (itself included), height, anchor]
    anchors: dict[str, tuple[int, int]] = {}  # anchor -> (nodes, height) of the finished node it names
    total = 0
    for event in yaml.parse(text, Loader=_Loader):
        line, name = event.start_mark.line + 1, getattr(event, "anchor", None)
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            if len(frames) + 1 > MAX_DEPTH:
                raise _Refused(line, _DEEP)
            frames.append([1, 1, name])
            total += 1
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            nodes, height, name = frames.pop()
            if name is not None:
                anchors[name] = (nodes, height)
            if frames:  # the finished node is one child of the node around it
                frames[-1][0] += nodes
                frames[-1][1] = max(frames[-1][1], height + 1)
        elif isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent)):
            if isinstance(event, yaml.ScalarEvent):
                nodes, height = 1, 0
                if name is not None:
                    anchors[name] = (1, 0)
            elif any(frame[2] == name for frame in frames):
                raise _Refused(line, f"alias *{name} is inside the node &{name} it repeats: a recursive structure")
            elif name not in anchors:
                raise _Refused(line, f"alias *{name} has no anchor &{name} before it")
            else:
                nodes, height = anchors[name]
                if len(frames) + height > MAX_DEPTH:
                    raise _Refused(line, f"alias *{name} nests deeper than {MAX_DEPTH} levels (the limit)")
            total += nodes
            if frames:
                frames[-1][0] += nodes
                frames[-1][1] = max(frames[-1][1], height + 1)
        if total > MAX_NODES:
            what = f"alias *{name} expands" if isinstance(event, yaml.AliasEvent) else "the document grows"
            raise _Refused(
                line, f"{what} past {MAX_NODES:,} keys, values and items (the limit; an alias counts all it repeats)"
            )


def parse_yaml(text: str, file: str) -> tuple[Any, yaml.Node | None]:
    """The data and the node tree of one YAML document, within the limits above; raises CatalogInvalid with
    the line where the parser stopped and, when the parser says so, where the unclosed construct started."""
    try:
        _check_shape(text)
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except _Refused as exc:
        raise CatalogInvalid([CatalogError(file, exc.line, "", exc.message)]) from None
    except yaml.YAMLError as exc:
        line, message = _yaml_error(exc, text)
        raise CatalogInvalid([CatalogError(file, line, "", message)]) from None
    return data, node


def _yaml_error(exc: yaml.YAMLError, text: str) -> tuple[int | None, str]:
    """(line, message) of the parser's or the constructor's error."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    problem = getattr(exc, "problem", None) or str(exc)
    if "maximum nesting depth" in problem:  # libyaml's own limit (1,000 flow levels) can come first
        return line, _DEEP
    if isinstance(exc, yaml.constructor.ConstructorError):  # a value or a tag, not the syntax
        unknown_tag = problem.startswith("could not determine a constructor")
        return line, problem + (" (a catalog holds plain YAML values only)" if unknown_tag else "")
    context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if context and context_mark is not None and context_mark.line + 1 != line:
        context = f"{context} at line {context_mark.line + 1}"
    rows = text.split("\n")
    if mark is not None and mark.line < len(rows) and rows[mark.line][mark.column : mark.column + 1] == "\t":
        problem += " (a tab: YAML indents with spaces)"
    return line, f"YAML syntax error: {problem}" + (f" ({context})" if context else "")


def load_with_lines(text: str, file: str) -> tuple[Any, LineMap, list[CatalogError]]:
    """Parse YAML text into (data, line map, duplicate-key errors); raises CatalogInvalid (see parse_yaml)."""
    data, node = parse_yaml(text, file)
    lines: dict[PathT, int] = {}
    dups: list[tuple[PathT, int]] = []
    if node is not None:
        lines[()] = node.start_mark.line + 1
        _walk(node, (), lines, dups)
    errors = [CatalogError(file, line, format_path(p), "duplicate key (YAML keeps only the last)") for p, line in dups]
    return data, LineMap(lines), errors


def read_catalog_text(path: str | Path) -> str:
    """The catalog file's text (at most MAX_BYTES), or CatalogInvalid naming the file."""
    p = Path(path)
    try:
        with p.open("rb") as fh:  # read no more than the limit: the "file" may be /dev/zero or a pipe
            raw = fh.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            too_big = f"larger than {MAX_BYTES // 2**20} MB, the limit for a catalog (a catalog is a few KB)"
            raise CatalogInvalid([CatalogError(str(path), None, "", too_big)])
        return raw.decode("utf-8")
    except FileNotFoundError:
        raise CatalogInvalid([CatalogError(str(path), None, "", "no such file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogInvalid([CatalogError(str(path), None, "", f"cannot read: {exc}")]) from None


def read_yaml_file(path: str | Path) -> Any:
    """The data of a YAML file (a run folder's saved catalog, say) within the same limits as a catalog's; raises
    CatalogInvalid naming the file and line."""
    return parse_yaml(read_catalog_text(path), str(path))[0]


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
