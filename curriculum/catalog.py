"""Load and check a catalog: YAML text -> `Catalog`, or every error at once.

`load_catalog(path, overrides)` parses the YAML (keeping the line of every key), applies command-line
overrides (`training.lr=3e-4`, `tasks[0].weight=2`), validates against the schema, and then runs the
checks that need more than the schema: unique task ids, known prerequisites without cycles
(networkx), known built-in tasks, data files that exist, built-in rewards on built-in data, sane
batch sizes. Every problem becomes a `CatalogError` with file, line, YAML path and what was
expected; they are raised together in `CatalogInvalid`.
"""

from __future__ import annotations

import difflib
import types
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import networkx as nx
import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from curriculum.schema import Catalog, SourceSpec
from curriculum.yamlio import (
    CatalogError,
    CatalogInvalid,
    LineMap,
    PathT,
    apply_override,
    format_path,
    load_with_lines,
    parse_path,
    read_catalog_text,
)

OVERRIDES = "command line"


def load_catalog(
    path: str | Path, overrides: list[str] | tuple[str, ...] = (), base_dir: Path | None = None
) -> Catalog:
    """The validated catalog at `path` with `key=value` overrides applied; raises CatalogInvalid.
    Relative data paths are taken from `base_dir` (default: the catalog's folder)."""
    catalog, errors = _load(Path(path), list(overrides), base_dir)
    if errors:
        raise CatalogInvalid(errors)
    assert catalog is not None
    return catalog


def check_catalog(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> list[CatalogError]:
    """Every error in the catalog (an empty list when it is valid)."""
    return _load(Path(path), list(overrides))[1]


def _load(path: Path, overrides: list[str], base_dir: Path | None = None) -> tuple[Catalog | None, list[CatalogError]]:
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
        found += _schema_errors(exc, data, lines, file)
    found += [
        CatalogError(file, lines.line(p), format_path(p), message)
        for p, message in semantic_problems(data, base_dir or path.parent.resolve())
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
    model = _model_at(path, data)
    if isinstance(node, dict) and model is not None and node.get("kind") in _kind_tags(model):
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
            apply_override(data, path, yaml.safe_load(raw) if raw.strip() else None)
            if path[-1] == "kind":
                _drop_foreign_keys(data, path[:-1])
        except (ValueError, KeyError, IndexError, TypeError, yaml.YAMLError) as exc:
            errors.append(CatalogError(OVERRIDES, None, key, f"cannot apply override {item!r}: {exc}"))
            continue
        applied.append(format_path(path))
    return errors, applied


# --------------------------------------------------------------------------------------------------
# schema errors -> CatalogError


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


def _model_at(path: PathT, data: Any) -> type[BaseModel] | None:
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
        model = next((m for m in candidates if kind in _kind_tags(m)), candidates[0] if len(candidates) == 1 else None)
    return model


def _field_models(path: PathT, data: Any) -> list[type[BaseModel]]:
    """The models a field at `path` may hold (the members of a tagged union)."""
    parent = _model_at(path[:-1], data) if path and isinstance(path[-1], str) else None
    field = parent.model_fields.get(path[-1]) if parent else None
    return _unwrap(field.annotation) if field else []


def _kind_tags(model: type[BaseModel]) -> tuple:
    field = model.model_fields.get("kind")
    return get_args(field.annotation) if field is not None else ()


def _schema_errors(exc: ValidationError, data: dict, lines: LineMap, file: str) -> list[CatalogError]:
    grouped: dict[PathT, list[str]] = {}
    for err in exc.errors():
        kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
        path = _data_path(err["loc"], data, keep_last=kind in ("missing", "extra_forbidden"))
        if kind == "missing":
            message = "required key is missing"
        elif kind == "extra_forbidden":
            model = _model_at(path[:-1], data)
            known = [f for f in model.model_fields] if model else []
            close = difflib.get_close_matches(str(path[-1]), known, n=1)
            message = f"unknown key {path[-1]!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
            if known:
                message += f"; expected one of: {', '.join(known)}"
        elif kind == "union_tag_invalid":
            path = (*path, "kind")
            message = f"unknown kind {ctx.get('tag')!r}; known: {ctx.get('expected_tags')}"
        elif kind == "union_tag_not_found":
            tags = [t for m in _field_models(path, data) for t in _kind_tags(m)]
            path = (*path, "kind")
            message = "required key `kind` is missing" + (f"; one of: {', '.join(tags)}" if tags else "")
        elif kind == "value_error":
            message = err["msg"].removeprefix("Value error, ")
        else:
            message = err["msg"]
            if not isinstance(value, (dict, list)):
                message += f" (got {value!r})"
        grouped.setdefault(path, [])
        if message not in grouped[path]:
            grouped[path].append(message)
    return [CatalogError(file, lines.line(p), format_path(p), "; or ".join(m)) for p, m in grouped.items()]


# --------------------------------------------------------------------------------------------------
# checks beyond the schema (run on the raw data, so they report even when the schema fails elsewhere)


def semantic_problems(data: dict, base_dir: Path) -> list[tuple[PathT, str]]:
    """(path, message) for problems the schema cannot see."""
    from tasks.registry import load_plugins

    load_plugins()
    problems: list[tuple[PathT, str]] = []
    tasks = data.get("tasks")
    if isinstance(tasks, list):
        problems += [(("tasks", *p), m) for p, m in _task_problems(tasks, base_dir)]
    schedule = data.get("schedule")
    if isinstance(schedule, dict) and schedule.get("sft_batch") == 0 and schedule.get("rl_batch") == 0:
        problems.append((("schedule",), "sft_batch and rl_batch are both 0: no step would train anything"))
    training = data.get("training")
    grpo = training.get("grpo") if isinstance(training, dict) else None
    if isinstance(grpo, dict) and grpo.get("hicra_alpha") is not None and isinstance(tasks, list):
        if not any(isinstance(t, dict) and t.get("planning") for t in tasks):
            problems.append(
                (("training", "grpo", "hicra_alpha"), "HICRA needs planning markers: give a task `planning`")
            )
    if isinstance(schedule, dict) and isinstance(schedule.get("order"), dict) and isinstance(tasks, list):
        problems += _order_problems(schedule["order"], tasks, data.get("training"))
    model = data.get("model")
    if isinstance(model, dict) and model.get("kind") == "hf" and isinstance(model.get("name"), str):
        name = model["name"]
        if name.startswith((".", "/", "~")) and not (base_dir / Path(name).expanduser()).exists():
            problems.append((("model", "name"), f"model folder not found: {base_dir / Path(name).expanduser()}"))
    return problems


def _order_problems(order: dict, tasks: list, training: Any) -> list[tuple[PathT, str]]:
    """A fixed order names every task once, prerequisites first; stage_steps has one entry per task and
    adds up to training.steps."""
    problems: list[tuple[PathT, str]] = []
    ids = [t.get("id") for t in tasks if isinstance(t, dict)]
    requires = {t.get("id"): t.get("requires") or [] for t in tasks if isinstance(t, dict)}
    fixed = order.get("tasks")
    if order.get("kind") == "fixed" and isinstance(fixed, list):
        where: PathT = ("schedule", "order", "tasks")
        unknown = [t for t in fixed if t not in ids]
        missing = [t for t in ids if t not in fixed]
        repeated = sorted({t for t in fixed if fixed.count(t) > 1}, key=str)
        if unknown:
            problems.append((where, f"unknown task(s) {', '.join(map(str, unknown))}; tasks are {', '.join(ids)}"))
        if missing:
            problems.append((where, f"every task needs a stage; missing {', '.join(map(str, missing))}"))
        if repeated:
            problems.append((where, f"task(s) {', '.join(map(str, repeated))} listed more than once"))
        if not (unknown or missing or repeated):
            for k, task in enumerate(fixed):
                for need in requires.get(task, []):
                    if need in fixed and fixed.index(need) > k:
                        problems.append((where, f"task {task} requires {need}, which comes after it"))
    lengths = order.get("stage_steps")
    if isinstance(lengths, list):
        where = ("schedule", "order", "stage_steps")
        if len(lengths) != len(ids):
            problems.append((where, f"{len(lengths)} stage lengths for {len(ids)} tasks (one stage per task)"))
        steps = training.get("steps", 200) if isinstance(training, dict) else 200
        if all(isinstance(n, int) for n in lengths) and isinstance(steps, int) and sum(lengths) != steps:
            problems.append((where, f"stage lengths add up to {sum(lengths)}, training.steps is {steps}"))
    return problems


PARTS = {"sft": "train", "rl": "train", "eval": "test"}  # part -> its default split


def _task_problems(tasks: list, base_dir: Path) -> list[tuple[PathT, str]]:
    """Per task: duplicate ids, sources (files, splits, built-in names), rewards; then prerequisites."""
    from tasks.sources import SourceError, import_function, known_splits
    from tasks.sources import check as check_source

    problems: list[tuple[PathT, str]] = []
    ids: dict[str, int] = {}
    adapter = TypeAdapter(SourceSpec)
    for i, task in enumerate(tasks):
        if not isinstance(task, dict):
            continue
        tid = task.get("id")
        if isinstance(tid, str):
            if tid in ids:
                problems.append(((i, "id"), f"duplicate task id {tid!r} (first at tasks[{ids[tid]}])"))
            else:
                ids[tid] = i
        # Each source is validated on its own, so a bad sibling does not hide a missing file.
        specs: dict[str, Any] = {}
        for part in ("source", *PARTS):
            raw = task.get("source") if part == "source" else _section(task, part).get("source")
            if raw is None:
                continue
            where = (i, "source") if part == "source" else (i, part, "source")
            try:
                specs[part] = adapter.validate_python(raw)
            except ValidationError:
                continue  # the schema errors already name it
            problems += [((*where, *p), m) for p, m in check_source(specs[part], [], base_dir)]
        for part, default in PARTS.items():
            spec = specs.get(part, specs.get("source"))
            split = _section(task, part).get("split", default)
            known = known_splits(spec, base_dir) if spec is not None else None
            if isinstance(split, str) and known is not None and split not in known:
                problems.append(
                    ((i, part, "split"), f"no split {split!r} in the {spec.kind} source (splits: {', '.join(known)})")
                )
        reward = task.get("reward")
        if isinstance(reward, dict) and reward.get("kind") == "python" and isinstance(reward.get("function"), str):
            try:
                import_function(reward["function"], base_dir)
            except SourceError as exc:
                problems.append(((i, "reward", "function"), str(exc)))
        if isinstance(reward, dict) and reward.get("kind") == "builtin":
            names = {
                _builtin_name(
                    task.get("source") if _section(task, p).get("source") is None else _section(task, p)["source"]
                )
                for p in ("rl", "eval")
            }
            if len(names) != 1 or None in names:
                problems.append(
                    (
                        (i, "reward", "kind"),
                        "a builtin reward needs the task's RL and eval rows to come from one built-in source",
                    )
                )
    return problems + _prerequisite_problems(tasks, ids)


def _prerequisite_problems(tasks: list, ids: dict[str, int]) -> list[tuple[PathT, str]]:
    """Unknown or self prerequisites, and cycles (each reported once, from its first task)."""
    problems: list[tuple[PathT, str]] = []
    graph = nx.DiGraph()
    graph.add_nodes_from(ids)
    for i, task in enumerate(tasks):
        if not isinstance(task, dict) or not isinstance(task.get("requires"), list):
            continue
        for j, req in enumerate(task["requires"]):
            if not isinstance(req, str):
                continue  # the schema reports the type
            if req not in ids:
                problems.append(((i, "requires", j), f"unknown task {req!r}; tasks: {', '.join(ids) or 'none'}"))
            elif req == task.get("id"):
                problems.append(((i, "requires", j), f"task {req!r} requires itself"))
            elif isinstance(task.get("id"), str):
                graph.add_edge(task["id"], req)  # task -> its prerequisite
    components = [c for c in nx.strongly_connected_components(graph) if len(c) > 1]
    for component in sorted(components, key=lambda c: min(ids[t] for t in c)):
        first = min(component, key=lambda t: ids[t])
        edges = nx.find_cycle(graph.subgraph(component), source=first)
        loop = " -> ".join([first, *(v for _, v in edges)])
        problems.append(((ids[first], "requires"), f"prerequisite cycle: {loop} (each requires the next)"))
    return problems


def _builtin_name(raw: Any) -> str | None:
    if isinstance(raw, dict) and raw.get("kind") == "builtin" and isinstance(raw.get("name"), str):
        return raw["name"]
    return None


def _section(task: dict, name: str) -> dict:
    value = task.get(name)
    return value if isinstance(value, dict) else {}
