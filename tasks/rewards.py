"""Rewards: each builder turns a reward spec into a `Reward(record, completions) -> list[float]`.

- `exact`: 1 if the extracted answer equals `record.answer` (extraction: the pattern's group, or the
  text after the last `=>`, or the whole completion);
- `numeric`: 1 if the last number in the completion equals the last number of `record.answer`
  within `tolerance`;
- `regex`: 1 if `re.search(pattern)` matches; `{answer}` in the pattern is the escaped reference;
- `builtin`: the built-in task's verifier; creative tasks: validity x novelty within the group;
- `python`: `fn(completion, record_dict) -> float`: user code, trusted, runs in-process.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Callable

from tasks.base import Record, Reward, final_answer
from tasks.builtin import group_reward
from tasks.registry import BUILTIN_TASKS, reward
from tasks.sources import SourceError, import_function

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")


class RewardError(Exception):
    """A reward spec cannot be built or cannot score; the message is for the user."""


def last_number(text: str | None) -> float | None:
    """The last number in `text` (`1,234.5` -> 1234.5), or None."""
    if not text:
        return None
    found = _NUMBER.findall(text)
    if not found:
        return None
    try:
        return float(found[-1].replace(",", ""))
    except ValueError:
        return None


def _per_completion(fn: Callable[[Record, str], float]) -> Reward:
    def score(record: Record, completions: list[str]) -> list[float]:
        return [float(fn(record, c)) for c in completions]

    return score


@reward("exact")
def build_exact(spec: Any, builtin_name: str | None = None, base_dir: Path | None = None) -> Reward:
    pattern = re.compile(spec.pattern) if spec.pattern else None

    def extract(text: str) -> str:
        if pattern is None:
            return final_answer(text)
        match = pattern.search(text)
        if match is None:
            return ""
        found = match.group(1) if match.groups() else match.group(0)
        return (found or "").strip()  # a group that took no part in the match extracts nothing

    def one(record: Record, completion: str) -> float:
        if record.answer is None:
            raise RewardError(f"exact reward needs an answer for prompt {record.prompt[:60]!r}")
        got, want = extract(completion), record.answer.strip()
        if spec.ignore_case:
            got, want = got.lower(), want.lower()
        return 1.0 if got == want else 0.0

    return _per_completion(one)


@reward("numeric")
def build_numeric(spec: Any, builtin_name: str | None = None, base_dir: Path | None = None) -> Reward:
    def one(record: Record, completion: str) -> float:
        want = last_number(record.answer)
        if want is None:
            raise RewardError(f"numeric reward needs a number in the answer of prompt {record.prompt[:60]!r}")
        got = last_number(completion)
        return 1.0 if got is not None and math.isclose(got, want, rel_tol=0.0, abs_tol=spec.tolerance) else 0.0

    return _per_completion(one)


@reward("regex")
def build_regex(spec: Any, builtin_name: str | None = None, base_dir: Path | None = None) -> Reward:
    def one(record: Record, completion: str) -> float:
        if "{answer}" in spec.pattern and record.answer is None:
            raise RewardError(f"regex reward uses {{answer}} but prompt {record.prompt[:60]!r} has no answer")
        pattern = spec.pattern.replace("{answer}", re.escape(record.answer or ""))
        return 1.0 if re.search(pattern, completion) else 0.0

    return _per_completion(one)


@reward("builtin")
def build_builtin(spec: Any, builtin_name: str | None = None, base_dir: Path | None = None) -> Reward:
    gen = BUILTIN_TASKS.get(builtin_name or "")
    if gen is None:
        raise RewardError("a builtin reward needs the task's RL and eval rows to come from a built-in source")

    def score(record: Record, completions: list[str]) -> list[float]:
        return group_reward(gen, record, completions)

    return score


@reward("python")
def build_python(spec: Any, builtin_name: str | None = None, base_dir: Path | None = None) -> Reward:
    try:
        fn = import_function(spec.function, base_dir)
    except SourceError as exc:
        raise RewardError(str(exc)) from None

    def one(record: Record, completion: str) -> float:
        return float(fn(completion, record.as_dict()))

    return _per_completion(one)
