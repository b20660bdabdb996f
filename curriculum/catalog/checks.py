"""Checks beyond the schema: what one section's spec cannot see alone.

They run on the raw YAML data, part by part, so a problem is reported even when the schema fails
elsewhere in the file (every error at once). Each rule lives in one place: the task-level rules in
`tasks` (`tasks.sources.check_source`, `tasks.sources.split_problem`, `tasks.spec.reward_problem`), the
prerequisite graph in `curriculum.signals.ordering.prerequisite_problems`, stage lengths in
`schedulers.staged.stage_lengths`; the rules that join sections (an order naming the tasks, HICRA needing
planning markers, batches that train nothing) are here; upper bounds on numbers are in `curriculum.catalog.limits`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from curriculum.catalog.limits import limit_problems
from curriculum.catalog.yamlio import PathT
from curriculum.signals.ordering import prerequisite_problems
from schedulers.base import SchedulerError
from schedulers.staged import stage_lengths
from tasks.sources import SourceError, check_source, find_function, import_function, split_problem
from tasks.spec import SourceSpec, TaskSpec, reward_problem
from trainer.config import TrainingSpec

PARTS = {"sft": "train", "rl": "train", "eval": "test"}  # part -> its default split


def semantic_problems(data: dict, base_dir: Path, import_code: bool = False) -> list[tuple[PathT, str]]:
    """(path, message) for every problem the schema cannot see. A `python` source or reward names user code:
    its module file must be found, and only with `import_code` is it imported (running the module)."""
    problems: list[tuple[PathT, str]] = limit_problems(data)
    tasks = data.get("tasks")
    if isinstance(tasks, list):
        problems += [(("tasks", *p), m) for p, m in _task_problems(tasks, base_dir, import_code)]
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
        elif model.get("system_prompt") and _local_folder(name, base_dir) is not None:
            problem = _system_prompt_problem(_local_folder(name, base_dir), model, import_code)
            if problem:
                problems.append((("model", "system_prompt"), problem))
        elif (name.count("/") > 1 or "\\" in name) and not Path(name).exists():
            # a hub id is `name` or `owner/name`: more than one slash can only be a local folder
            problems.append(
                (("model", "name"), f"model folder not found: {name} (not a hub id either: a hub id is owner/name)")
            )
    return problems


def _local_folder(name: str, base_dir: Path) -> Path | None:
    """The model's folder when it is a local one, else None: the rule of `trainer.model.model_target`, written
    here again because importing `trainer.model` would load torch and transformers into every validate."""
    path = Path(name).expanduser()
    if name.startswith(".") and not path.is_absolute():
        path = base_dir / path
    return path if path.is_dir() else None


def _system_prompt_problem(folder: Path, model: dict, import_code: bool) -> str | None:
    """Whether the local model's chat template renders a system message (Gemma's reject it); loads only the
    tokenizer, and only for a catalog that sets model.system_prompt. A tokenizer with its own code in the
    folder (trust_remote_code) is loaded only with `import_code`."""
    from transformers import AutoTokenizer

    remote_code = import_code and bool(model.get("trust_remote_code"))
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), trust_remote_code=remote_code)
    except (OSError, ValueError):
        return None  # the loader says what is wrong with the folder, at train time
    if not getattr(tokenizer, "chat_template", None) or model.get("chat_template") is False:
        return None
    messages = [{"role": "system", "content": str(model["system_prompt"])}, {"role": "user", "content": "hi"}]
    try:
        tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    except Exception as exc:  # noqa: BLE001 -- jinja raises its own errors
        return f"the model's chat template rejects a system message ({exc}); remove system_prompt"
    return None


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
    steps = (training if isinstance(training, dict) else {}).get("steps", TrainingSpec.model_fields["steps"].default)
    if isinstance(lengths, list) and all(isinstance(n, int) for n in lengths) and isinstance(steps, int):
        try:
            stage_lengths(steps, len(ids), lengths)
        except SchedulerError as exc:
            problems.append((("schedule", "order", "stage_steps"), str(exc)))
    return problems


def _task_problems(tasks: list, base_dir: Path, import_code: bool) -> list[tuple[PathT, str]]:
    """Per task: duplicate ids, its sources (files, splits, built-in names), its reward; then prerequisites."""
    problems: list[tuple[PathT, str]] = []
    ids: dict[str, int] = {}
    sources = TypeAdapter(SourceSpec)
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
                specs[part] = sources.validate_python(raw)
            except ValidationError:
                continue  # the schema errors already name it
            problems += [((*where, *p), m) for p, m in check_source(specs[part], base_dir, import_code)]
        for part, default in PARTS.items():
            spec = specs.get(part, specs.get("source"))
            split = _section(task, part).get("split", default)
            problem = split_problem(spec, split, base_dir) if spec is not None and isinstance(split, str) else None
            if problem:
                problems.append(((i, part, "split"), problem))
        problems += [((i, *p), m) for p, m in _reward_problems(task, base_dir, import_code)]
    requires = {t["id"]: t["requires"] for i, t in enumerate(tasks) if _first_with_requires(t, i, ids)}
    _, found = prerequisite_problems(list(ids), requires)
    for p in found:
        where = (ids[p.task], "requires") if p.index is None else (ids[p.task], "requires", p.index)
        problems.append((where, p.message))
    return problems


def _reward_problems(task: dict, base_dir: Path, import_code: bool) -> list[tuple[PathT, str]]:
    """The reward's rules (tasks.spec.reward_problem) on a task that validates, and a `python` reward's module."""
    problems: list[tuple[PathT, str]] = []
    reward = task.get("reward")
    if isinstance(reward, dict) and reward.get("kind") == "python" and isinstance(reward.get("function"), str):
        try:
            (import_function if import_code else find_function)(reward["function"], base_dir)
        except SourceError as exc:
            problems.append((("reward", "function"), str(exc)))
    try:
        spec = TaskSpec.model_validate(task)
    except ValidationError:
        return problems  # the schema errors name what is wrong first
    found = reward_problem(spec)
    return problems + ([found] if found else [])


def _first_with_requires(task: Any, index: int, ids: dict[str, int]) -> bool:
    """A task with a `requires` list, the first with its id (a duplicate id is reported on its own)."""
    if not isinstance(task, dict) or not isinstance(task.get("requires"), list):
        return False
    tid = task.get("id")
    return isinstance(tid, str) and ids.get(tid) == index


def _section(task: dict, name: str) -> dict:
    value = task.get(name)
    return value if isinstance(value, dict) else {}
