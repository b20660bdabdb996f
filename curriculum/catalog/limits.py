"""Upper bounds on the numbers that make a run absurd: each says its limit and why.

A typo (`lr: 3`, `steps: 2000000000`, `rl_batch: 100000` with `group_size: 64`) is refused at validate
time instead of diverging, or sampling for days, after the run has started. The bounds are generous:
real use sits orders of magnitude below each one. Infinite and NaN floats are refused everywhere by
`curriculum.spec.Spec`; these bounds read the raw YAML data (after overrides), so they are reported beside
every other error.
"""

from __future__ import annotations

import math
from typing import Any

from curriculum.catalog.yamlio import PathT

MAX_LR = 1.0
MAX_STEPS = 1_000_000  # optimizer steps (and probe steps per task)
MAX_PER_STEP = 100_000  # rollouts (rl_batch x group_size), demonstrations or eval sequences in one step
MAX_ROWS = 100_000_000  # rows of one task's SFT or RL data
MAX_EVAL_ROWS = 1_000_000  # eval prompts of one task
MAX_SAMPLES = 1_024  # completions per eval prompt
MAX_TOKENS = 1_048_576  # tokens of one completion or sequence
MIN_TEMPERATURE = 1e-4  # sampling temperatures

_STEPS_WHY = (
    "a million optimizer steps is far past any post-training run, and a plan is built step by step (100,000 "
    "steps take about 13 s to plan)"
)
_ROWS_WHY = "a task's rows are held in memory"
_TOKENS_WHY = "longer than any model's context window"

# (path, limit, why); "*" stands for every task
BOUNDS: list[tuple[PathT, float, str]] = [
    (("training", "lr"), MAX_LR, "learning rates above 1 diverge at once"),
    (("training", "steps"), MAX_STEPS, _STEPS_WHY),
    (("training", "max_seq_len"), MAX_TOKENS, _TOKENS_WHY),
    (("training", "rollout", "max_new_tokens"), MAX_TOKENS, _TOKENS_WHY),
    (("evaluation", "max_new_tokens"), MAX_TOKENS, _TOKENS_WHY),
    (("evaluation", "samples"), MAX_SAMPLES, "every eval prompt is sampled this many times at every evaluation"),
    (("evaluation", "kl_samples"), MAX_SAMPLES, "every eval prompt is sampled this many times at every evaluation"),
    (("evaluation", "batch_size"), MAX_PER_STEP, "sequences generated at once must fit in memory"),
    (("schedule", "sft_batch"), MAX_PER_STEP, "demonstrations of one step are trained at once"),
    (("schedule", "order", "probe_steps"), MAX_STEPS, _STEPS_WHY),
    (("tasks", "*", "sft", "size"), MAX_ROWS, _ROWS_WHY),
    (("tasks", "*", "rl", "size"), MAX_ROWS, _ROWS_WHY),
    (("tasks", "*", "eval", "size"), MAX_EVAL_ROWS, "every evaluation scores each eval prompt"),
]

_TEMPERATURE_WHY = "sampling is greedy well before it, and scores divided by a far smaller one overflow into NaN"
# (path, smallest value, why)
FLOORS: list[tuple[PathT, float, str]] = [
    (("training", "rollout", "temperature"), MIN_TEMPERATURE, _TEMPERATURE_WHY),
    (("evaluation", "temperature"), MIN_TEMPERATURE, _TEMPERATURE_WHY),
]


def limit_problems(data: dict) -> list[tuple[PathT, str]]:
    """(path, message) for every number beyond its bound, and for more rollouts per step than MAX_PER_STEP."""
    problems = []
    for path, limit, why in BOUNDS:
        for where, value in _values(data, path):
            if value > limit:
                problems.append((where, f"{_show(value)} is above the limit of {_show(limit)}: {why}"))
    for path, floor, why in FLOORS:
        for where, value in _values(data, path):
            if 0 < value < floor:  # 0 and below are the schema's to refuse
                problems.append((where, f"{value:g} is below the limit of {floor:g}: {why}"))
    schedule, training = data.get("schedule"), data.get("training")
    rollout = training.get("rollout") if isinstance(training, dict) else None
    rl_batch = _number(schedule.get("rl_batch", 8)) if isinstance(schedule, dict) else None
    group_size = _number(rollout.get("group_size", 4)) if isinstance(rollout, dict) else 4
    if rl_batch is not None and group_size is not None and rl_batch * group_size > MAX_PER_STEP:
        # blame the larger factor: the one most likely mistyped
        where = ("schedule", "rl_batch") if rl_batch >= group_size else ("training", "rollout", "group_size")
        problems.append(
            (
                where,
                f"rl_batch x group_size = {_show(rl_batch * group_size)} rollouts per step, above the limit of "
                f"{MAX_PER_STEP:,}: every rollout is sampled token by token in each step",
            )
        )
    return problems


def _values(node: Any, path: PathT, where: PathT = ()) -> list[tuple[PathT, float]]:
    """The numbers at `path` in the data ("*" = every item of a list), with their concrete paths."""
    if not path:
        number = _number(node)
        return [(where, number)] if number is not None else []
    head, rest = path[0], path[1:]
    if head == "*":
        items = node if isinstance(node, list) else []
        return [found for i, item in enumerate(items) for found in _values(item, rest, (*where, i))]
    if isinstance(node, dict) and head in node:
        return _values(node[head], rest, (*where, head))
    return []


def _number(value: Any) -> float | None:
    """A finite number as the schema will read it (YAML 1.1 reads `1e-4` as text), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, int):
        return value
    return value if isinstance(value, float) and math.isfinite(value) else None


def _show(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) or not value.is_integer() else f"{int(value):,}"
