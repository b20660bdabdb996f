"""Build a loaded `Task` from a catalog task spec: its SFT demonstrations, RL prompts, eval set, reward.

This is the one build module of `tasks/`: it imports the plugin modules (built-in generators, sources,
rewards), so the registries it re-exports are full.

Row selection, for each part (sft, rl, eval) and the (source, split) it draws from:
1. the split's rows are loaded (built-in generators make as many as the parts need) and put in a
   seeded order (`seed`, task id, split): the same catalog gives the same rows;
2. the eval set is the first `eval.size` rows of its split;
3. SFT and RL take the first `size` rows of their split that are not eval prompts (eval prompts are
   never trained on, even when eval and training share a split), SFT only rows with a demonstration.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from curriculum.errors import UserError
from curriculum.seeding import py_rng
from tasks import builtin, rewards, sources  # noqa: F401  (the plugin modules: they fill the registries)
from tasks.base import Extract, Record, Reward, TaskKind
from tasks.registry import BUILTIN_TASKS, REWARDS, SOURCES
from tasks.rewards import RewardError, last_number
from tasks.sources import SourceError
from tasks.spec import SourceSpec, TaskSpec, reward_problem

__all__ = ["BUILTIN_TASKS", "REWARDS", "SOURCES", "DataTask", "TaskBuildError", "build_task"]

BUILTIN_DEFAULT_SIZE = 2000  # rows a built-in generator makes for a part whose size is null


class TaskBuildError(UserError):
    """A task cannot be built; `path` is the YAML path inside the task (e.g. ("eval", "split"))."""

    def __init__(self, path: tuple, message: str):
        self.path = path
        super().__init__(message)


@dataclass
class DataTask:
    """A task with its data loaded (implements `tasks.base.Task`)."""

    id: str
    kind: TaskKind
    weight: float
    requires: list[str]
    sft: list[Record]
    rl: list[Record]
    eval: list[Record]
    reward: Reward
    extract: Extract  # the answer part of a completion, as the reward reads it
    planning: list[str] | str | None = None  # planning markers: phrases or a regex


def _source_key(spec: SourceSpec) -> str:
    return spec.model_dump_json()


def build_task(spec: TaskSpec, seed: int, base_dir: Path) -> DataTask:
    """Load a task's rows and build its reward. Raises TaskBuildError naming the YAML path."""
    problem = reward_problem(spec)
    if problem is not None:
        raise TaskBuildError(*problem)
    parts = {
        "sft": (spec.source_of("sft"), spec.sft.split, spec.sft.size),
        "rl": (spec.source_of("rl"), spec.rl.split, spec.rl.size),
        "eval": (spec.source_of("eval"), spec.eval.split, spec.eval.size),
    }
    where = {name: ((name, "source") if getattr(spec, name).source is not None else ("source",)) for name in parts}

    # How many rows each (source, split) must give: generators make exactly that many.
    need: dict[tuple[str, str], int] = {}
    for src, split, size in parts.values():
        key = (_source_key(src), split)
        need[key] = need.get(key, 0) + (BUILTIN_DEFAULT_SIZE if size is None else size)

    pools: dict[tuple[str, str], list[Record]] = {}

    def pool(name: str) -> list[Record]:
        src, split, _ = parts[name]
        key = (_source_key(src), split)
        if key not in pools:
            try:
                rows = SOURCES[src.kind](src, split, base_dir, seed, need[key])
            except SourceError as exc:
                raise TaskBuildError(where[name], str(exc)) from None
            py_rng(seed, "order", spec.id, split).shuffle(rows)
            pools[key] = rows
        return pools[key]

    eval_rows = pool("eval")[: spec.eval.size]
    if not eval_rows:
        raise TaskBuildError(("eval", "split"), f"split {spec.eval.split!r} has no rows")
    held_out = {r.prompt for r in eval_rows}

    def training_rows(name: str, with_completion: bool) -> list[Record]:
        size = parts[name][2]
        if size == 0:
            return []
        rows = [r for r in pool(name) if r.prompt not in held_out and (r.completion is not None or not with_completion)]
        if size is None and parts[name][0].kind == "builtin":
            rows = rows[:BUILTIN_DEFAULT_SIZE]  # a generator has no "all rows"; its pool is shared by the parts
        if not rows and size is not None:
            what = "demonstrations (rows with a completion)" if with_completion else "prompts"
            raise TaskBuildError((name, "size"), f"asked for {size} {what} but split {parts[name][1]!r} has none left")
        return rows if size is None else rows[:size]

    sft_rows, rl_rows = training_rows("sft", True), training_rows("rl", False)
    if not sft_rows and not rl_rows:
        raise TaskBuildError((), "the task has neither SFT demonstrations nor RL prompts")

    reward, extract = _build_reward(spec, base_dir)
    _check_answers(spec, {"rl": rl_rows, "eval": eval_rows})
    return DataTask(
        spec.id,
        spec.kind,
        spec.weight,
        list(spec.requires),
        sft_rows,
        rl_rows,
        eval_rows,
        reward,
        extract,
        spec.planning,
    )


def _check_answers(spec: TaskSpec, parts: dict[str, list[Record]]) -> None:
    """The rows a reward grades have the reference it compares with: an answer (exact, numeric, a regex
    with `{answer}`), and a number in it (numeric); otherwise the run would fail mid-training."""
    kind = spec.reward.kind
    if not (kind in ("exact", "numeric") or (kind == "regex" and "{answer}" in spec.reward.pattern)):
        return
    path = getattr(spec.source, "path", None)
    origin = f" of {path}" if isinstance(path, str) else ""  # the data file, when there is one
    for name, rows in parts.items():
        missing = [r for r in rows if r.answer is None]
        if missing:
            raise TaskBuildError(
                ("reward", "kind"),
                f"{kind} reward needs an answer, but {len(missing)} {name} rows{origin} have none "
                f"(the first: prompt {missing[0].prompt[:40]!r})",
            )
        if kind == "numeric":
            bad = [r for r in rows if last_number(r.answer) is None]
            if bad:
                raise TaskBuildError(
                    ("reward", "kind"),
                    f"numeric reward needs a number in every answer, but {len(bad)} {name} rows{origin} have none "
                    f"(the first: prompt {bad[0].prompt[:40]!r}, answer {bad[0].answer[:40]!r})",
                )


def _build_reward(spec: TaskSpec, base_dir: Path) -> tuple[Reward, Extract]:
    try:
        return REWARDS[spec.reward.kind](spec.reward, spec.builtin_generator(), base_dir)
    except RewardError as exc:
        raise TaskBuildError(("reward",), str(exc)) from None
