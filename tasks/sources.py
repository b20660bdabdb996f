"""Data sources: rows of a split as `Record`s, from built-in generators, files, datasets or user code.

| kind      | reads                                                        | splits                               |
|-----------|--------------------------------------------------------------|--------------------------------------|
| `builtin` | a built-in generator (`tasks.builtin`)                       | `train`, `test`                      |
| `jsonl`   | JSON lines, through the standard library                     | one file = `train`; or split -> file |
| `csv`     | CSV through polars                                           | as jsonl                             |
| `parquet` | Parquet through polars                                       | as jsonl                             |
| `disk`    | a `datasets.save_to_disk` folder (`load_from_disk`)          | a DatasetDict's splits, or `train`   |
| `hub`     | `datasets.load_dataset(name, config, split=..., revision=)` | the dataset's splits                 |
| `python`  | `fn(split, seed)` yielding dicts (trusted code)              | whatever the function accepts        |

`fields` maps the row's columns to prompt / completion / answer; other columns go to `Record.meta`.
Loaders raise `SourceError` with a message meant for the user; `check_source` and `split_problem`
find problems without loading whole files (for `curriculum validate`), and without importing user code
unless asked (`find_function` locates a `python` function's module file without running it).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import keyword
import sys
from importlib.machinery import ModuleSpec, PathFinder
from pathlib import Path
from typing import Any, Callable, Iterable

from tasks.base import Record
from tasks.builtin import generate
from tasks.registry import BUILTIN_TASKS, source
from tasks.spec import BuiltinSource, DiskSource, FieldMap, FileSource, HubSource, PythonSource, SourceSpec


class SourceError(Exception):
    """A data source cannot give the rows asked for; the message says why and what would fix it."""


def resolve(path: str, base_dir: Path) -> Path:
    """A catalog path, relative to the catalog file's folder unless absolute."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else base_dir / p


def _split_function(spec: str) -> tuple[str, str]:
    """`package.module:function` -> (module, function), both Python names; raises SourceError."""
    module_name, _, attr = spec.partition(":")
    names = [*module_name.split("."), attr]
    if not module_name or not attr or not all(n.isidentifier() and not keyword.iskeyword(n) for n in names):
        raise SourceError(f"expected `package.module:function` (Python names), got {spec!r}")
    return module_name, attr


def import_function(spec: str, search: Path | None = None) -> Callable:
    """`package.module:function` -> the function (user code, trusted). Raises SourceError.

    The module is looked up on the import path, then in `search` (the catalog's folder) and in the
    working directory, so a catalog can sit next to its own reward or data module."""
    module_name, attr = _split_function(spec)
    for folder in (str(search) if search else None, ""):
        if folder is not None and folder not in sys.path:
            sys.path.append(folder)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - any import failure is the user's to see
        raise SourceError(f"cannot import {module_name!r}: {type(exc).__name__}: {exc}") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise SourceError(f"{module_name!r} has no function {attr!r}")
    return fn


def find_function(spec: str, search: Path | None = None) -> str:
    """Where `import_function(spec, search)` would import the module from (its file, or `built-in`), found
    WITHOUT importing anything: no user code runs. Raises SourceError when the name is malformed or no
    module file is found. Whether the module defines the function is known only by importing it.

    The search is import_function's: the import path, then `search`, then the working directory. For
    `pkg.mod` the file is looked for inside `pkg`'s folders; `pkg/__init__.py` is not run (a package that
    extends its own `__path__` at import is not followed)."""
    module_name, _ = _split_function(spec)
    parts = module_name.split(".")
    if module_name in sys.modules:
        return getattr(sys.modules[module_name], "__file__", None) or "an already imported module"
    folders = [str(f) for f in (search, Path.cwd()) if f is not None]
    # find_spec of a top-level name runs no module code (of a dotted name it would import the package)
    found = _top_level_spec(parts[0]) or PathFinder.find_spec(parts[0], folders)
    for depth in range(1, len(parts)):
        if found is None:
            break
        if found.submodule_search_locations is None:
            raise SourceError(f"cannot find {module_name!r}: {'.'.join(parts[:depth])!r} is a module, not a package")
        found = PathFinder.find_spec(".".join(parts[: depth + 1]), list(found.submodule_search_locations))
    if found is None:
        where = " or ".join(dict.fromkeys(folders))
        raise SourceError(f"cannot find module {module_name!r} on the import path or in {where}")
    return found.origin if found.origin not in (None, "namespace") else "a folder (namespace package)"


def _top_level_spec(name: str) -> ModuleSpec | None:
    """The spec of a top-level module on the import path (already imported, built in, or a file), or None."""
    if name in sys.modules:
        return getattr(sys.modules[name], "__spec__", None)
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None


def _text_problem(text: str) -> str | None:
    """Why `text` cannot go to a tokenizer: a NUL character, or a lone surrogate (half of a UTF-16 pair, which
    JSON's \\ud800 escapes can make) that has no UTF-8 form; None when it can."""
    if "\x00" in text:
        return f"a NUL character at offset {text.index(chr(0))}"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"a character with no UTF-8 form ({text[exc.start]!r}, a lone surrogate) at offset {exc.start}"
    return None


def to_records(rows: Iterable[dict[str, Any]], fields: FieldMap, where: str) -> list[Record]:
    """Map rows to Records through the field map; rows need a non-empty prompt, and their texts must be text a
    tokenizer takes (no NUL, no lone surrogate)."""
    records = []
    for i, row in enumerate(rows):
        prompt = row.get(fields.prompt)
        if not isinstance(prompt, str) or not prompt:
            have = ", ".join(sorted(map(str, row))) or "none"
            raise SourceError(f"{where}: row {i} has no text in column {fields.prompt!r} (columns: {have})")
        completion, answer = row.get(fields.completion), row.get(fields.answer)
        for column, value in ((fields.prompt, prompt), (fields.completion, completion), (fields.answer, answer)):
            problem = _text_problem(str(value)) if value is not None else None
            if problem:
                raise SourceError(f"{where}: row {i}, column {column!r}: {problem}")
        meta = {k: v for k, v in row.items() if k not in (fields.prompt, fields.completion, fields.answer)}
        records.append(
            Record(
                prompt,
                None if completion is None else str(completion),
                None if answer is None else str(answer),
                meta,
            )
        )
    return records


# --------------------------------------------------------------------------------------------------
# loaders: (spec, split, base_dir, seed, count) -> list[Record]; `count` only matters to generators


@source("builtin")
def load_builtin(spec: BuiltinSource, split: str, base_dir: Path, seed: int, count: int) -> list[Record]:
    gen = BUILTIN_TASKS.get(spec.name)
    if gen is None:
        raise SourceError(f"unknown built-in task {spec.name!r}; known: {', '.join(sorted(BUILTIN_TASKS))}")
    try:
        return generate(gen, split, count, seed, spec.style)
    except ValueError as exc:
        raise SourceError(str(exc)) from None


def _file_for(spec: FileSource, split: str, base_dir: Path) -> Path:
    paths = spec.path if isinstance(spec.path, dict) else {"train": spec.path}
    if split not in paths:
        raise SourceError(f"no split {split!r} in {spec.kind} source (splits: {', '.join(paths)})")
    path = resolve(paths[split], base_dir)
    if not path.is_file():
        raise SourceError(f"data file not found: {path}")
    return path


@source("jsonl")
def load_jsonl(spec: FileSource, split: str, base_dir: Path, seed: int, count: int) -> list[Record]:
    path = _file_for(spec, split, base_dir)
    rows = []
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            row = _json_line(raw, path, lineno)
            if row is not None:
                rows.append(row)
    return to_records(rows, spec.fields, str(path))


def _json_line(raw: bytes, path: Path, lineno: int) -> dict | None:
    """One JSONL line as a row (None for a blank line), or SourceError naming the file and line: not UTF-8, not
    JSON, nested too deep (the parser's recursion limit), not an object."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{path}:{lineno}: not UTF-8 text (byte {exc.start}: {raw[exc.start : exc.start + 1]!r})"
        ) from None
    if not line.strip():
        return None
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise SourceError(f"{path}:{lineno}: not valid JSON: {exc.msg}") from None
    except RecursionError:  # the parser's own guard against deep nesting
        raise SourceError(f"{path}:{lineno}: nested too deep for a data row (rows are flat records)") from None
    if not isinstance(row, dict):
        raise SourceError(f"{path}:{lineno}: expected a JSON object per line")
    return row


@source("csv", "parquet")
def load_table(spec: FileSource, split: str, base_dir: Path, seed: int, count: int) -> list[Record]:
    import polars as pl

    path = _file_for(spec, split, base_dir)
    try:
        frame = pl.read_csv(path, infer_schema=False) if spec.kind == "csv" else pl.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - polars raises many kinds; the user needs the text
        raise SourceError(f"cannot read {path}: {exc}") from None
    return to_records(frame.to_dicts(), spec.fields, str(path))


def _dataset_split(data: Any, split: str, where: str) -> Any:
    from datasets import DatasetDict

    if isinstance(data, DatasetDict):
        if split not in data:
            raise SourceError(f"no split {split!r} in {where} (splits: {', '.join(data)})")
        return data[split]
    if split != "train":
        raise SourceError(f"{where} is a single Dataset (split `train`); got split {split!r}")
    return data


@source("disk")
def load_disk(spec: DiskSource, split: str, base_dir: Path, seed: int, count: int) -> list[Record]:
    from datasets import load_from_disk

    path = resolve(spec.path, base_dir)
    if not path.exists():
        raise SourceError(f"dataset folder not found: {path}")
    try:
        data = load_from_disk(str(path))
    except Exception as exc:  # noqa: BLE001
        raise SourceError(f"cannot load dataset folder {path}: {exc}") from None
    return to_records(_dataset_split(data, split, str(path)), spec.fields, str(path))


@source("hub")
def load_hub(spec: HubSource, split: str, base_dir: Path, seed: int, count: int) -> list[Record]:
    from datasets import load_dataset

    name = spec.name
    local = resolve(name, base_dir)
    if local.exists():  # a local dataset folder (data files with the hub layout)
        name = str(local)
    try:
        data = load_dataset(name, spec.config, split=split, revision=spec.revision)
    except Exception as exc:  # noqa: BLE001 - offline, missing split, missing config all land here
        raise SourceError(f"cannot load dataset {spec.name!r} split {split!r}: {type(exc).__name__}: {exc}") from None
    return to_records(data, spec.fields, spec.name)


@source("python")
def load_python(spec: PythonSource, split: str, base_dir: Path, seed: int, count: int) -> list[Record]:
    fn = import_function(spec.function, base_dir)
    try:
        rows = list(fn(split, seed))
    except Exception as exc:  # noqa: BLE001 - user code
        raise SourceError(f"{spec.function}({split!r}, {seed}) failed: {type(exc).__name__}: {exc}") from None
    if not all(isinstance(r, dict) for r in rows):
        raise SourceError(f"{spec.function} must yield dicts")
    return to_records(rows, spec.fields, spec.function)


# --------------------------------------------------------------------------------------------------
# checks without loading


def _columns(path: Path, kind: str) -> list[str]:
    import polars as pl

    if kind == "jsonl":
        with path.open("rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                row = _json_line(raw, path, lineno)
                if row is not None:
                    return list(row)
        return []
    scan = pl.scan_csv(path, infer_schema=False) if kind == "csv" else pl.scan_parquet(path)
    return scan.collect_schema().names()


def known_splits(spec: SourceSpec, base_dir: Path) -> list[str] | None:
    """The splits a source has, when that can be known without loading it (None: hub, python)."""
    if spec.kind == "builtin":
        return ["train", "test"]
    if spec.kind in ("jsonl", "csv", "parquet"):
        return list(spec.path) if isinstance(spec.path, dict) else ["train"]
    if spec.kind == "disk":
        index = resolve(spec.path, base_dir) / "dataset_dict.json"
        if index.is_file():
            return list(json.loads(index.read_text()).get("splits", []))
        return ["train"] if resolve(spec.path, base_dir).exists() else None
    return None


def split_problem(spec: SourceSpec, split: str, base_dir: Path) -> str | None:
    """Why `split` is not a split of the source, when that can be known without loading it; else None."""
    known = known_splits(spec, base_dir)
    if known is not None and split not in known:
        return f"no split {split!r} in the {spec.kind} source (splits: {', '.join(known)})"
    return None


def check_source(spec: SourceSpec, base_dir: Path, import_code: bool = False) -> list[tuple[tuple, str]]:
    """Problems with `spec` found without loading it: (sub-path, message) pairs. Files must exist and
    have the prompt column; a built-in generator must exist; a python function's module must be found
    (`find_function`, no user code runs), or with `import_code` the function must import."""
    problems: list[tuple[tuple, str]] = []
    if spec.kind == "builtin":
        if spec.name not in BUILTIN_TASKS:
            problems.append(
                (("name",), f"unknown built-in task {spec.name!r}; known: {', '.join(sorted(BUILTIN_TASKS))}")
            )
    elif spec.kind in ("jsonl", "csv", "parquet"):
        paths = spec.path if isinstance(spec.path, dict) else {"train": spec.path}
        for split, p in paths.items():
            sub = ("path", split) if isinstance(spec.path, dict) else ("path",)
            path = resolve(p, base_dir)
            if not path.is_file():
                problems.append((sub, f"data file not found: {path}"))
                continue
            try:
                columns = _columns(path, spec.kind)
            except Exception as exc:  # noqa: BLE001
                problems.append((sub, f"cannot read {path}: {exc}"))
                continue
            if spec.fields.prompt not in columns:
                problems.append(
                    (
                        ("fields", "prompt"),
                        f"{path.name} has no column {spec.fields.prompt!r} (columns: {', '.join(columns)})",
                    )
                )
    elif spec.kind == "disk":
        path = resolve(spec.path, base_dir)
        if not path.exists():
            problems.append((("path",), f"dataset folder not found: {path}"))
    elif spec.kind == "python":
        try:
            (import_function if import_code else find_function)(spec.function, base_dir)
        except SourceError as exc:
            problems.append((("function",), str(exc)))
    return problems
