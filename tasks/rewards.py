"""Rewards: each builder turns a reward spec into `(reward, extract)`: a `Reward(record, completions) ->
list[float]`, and the answer part of a completion as that reward reads it (`Extract`, what the eval's
`unique` counts distinct).

- `exact`: 1 if the extracted answer equals `record.answer`. Answer: the pattern's first group, or the text
  after the last `=>`, or the whole completion; lowercased with `ignore_case`.
- `numeric`: 1 if the last number equals the reference's last number within `tolerance`. Answer: the last
  number (`12.0` and `12` are one answer), or the text when there is none.
- `regex`: 1 if `re.search(pattern)` matches; `{answer}` is the escaped reference. Answer: the whole text.
- `builtin`: the built-in task's verifier; creative tasks: validity x novelty within the group. Answer: the
  text after the last `=>`.
- `python`: `fn(completion, record_dict) -> float`: user code, trusted, runs in-process; what it returns is
  checked where the run grades (`curriculum.run.stream`). Answer: the whole text.

Answer parts are stripped of surrounding whitespace.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Callable

from tasks.base import Extract, Record, Reward, final_answer
from tasks.builtin import group_reward
from tasks.registry import BUILTIN_TASKS, reward
from tasks.sources import SourceError, import_function
from tasks.spec import BuiltinReward, ExactReward, NumericReward, PythonReward, RegexReward

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


def whole(completion: str) -> str:
    """The whole completion is the answer (rewards that read all of it)."""
    return completion.strip()


def _per_completion(fn: Callable[[Record, str], float]) -> Reward:
    def score(record: Record, completions: list[str]) -> list[float]:
        return [float(fn(record, c)) for c in completions]

    return score


@reward("exact")
def build_exact(spec: ExactReward, builtin_name: str | None, base_dir: Path) -> tuple[Reward, Extract]:
    pattern = re.compile(spec.pattern) if spec.pattern else None

    def extract(text: str) -> str:
        if pattern is None:
            found = final_answer(text)
        elif (match := pattern.search(text)) is None:
            found = ""
        else:  # a group that took no part in the match extracts nothing
            found = ((match.group(1) if match.groups() else match.group(0)) or "").strip()
        return found.lower() if spec.ignore_case else found

    def one(record: Record, completion: str) -> float:
        if record.answer is None:
            raise RewardError(f"exact reward needs an answer for prompt {record.prompt[:60]!r}")
        want = record.answer.strip()
        return 1.0 if extract(completion) == (want.lower() if spec.ignore_case else want) else 0.0

    return _per_completion(one), extract


@reward("numeric")
def build_numeric(spec: NumericReward, builtin_name: str | None, base_dir: Path) -> tuple[Reward, Extract]:
    def one(record: Record, completion: str) -> float:
        want = last_number(record.answer)
        if want is None:
            raise RewardError(f"numeric reward needs a number in the answer of prompt {record.prompt[:60]!r}")
        got = last_number(completion)
        return 1.0 if got is not None and math.isclose(got, want, rel_tol=0.0, abs_tol=spec.tolerance) else 0.0

    def extract(completion: str) -> str:
        number = last_number(completion)
        if number is None:
            return whole(completion)
        return str(int(number)) if number.is_integer() else repr(number)  # 12.0 and 12 are one answer

    return _per_completion(one), extract


@reward("regex")
def build_regex(spec: RegexReward, builtin_name: str | None, base_dir: Path) -> tuple[Reward, Extract]:
    def one(record: Record, completion: str) -> float:
        if "{answer}" in spec.pattern and record.answer is None:
            raise RewardError(f"regex reward uses {{answer}} but prompt {record.prompt[:60]!r} has no answer")
        pattern = spec.pattern.replace("{answer}", re.escape(record.answer or ""))
        return 1.0 if re.search(pattern, completion) else 0.0

    return _per_completion(one), whole


@reward("builtin")
def build_builtin(spec: BuiltinReward, builtin_name: str | None, base_dir: Path) -> tuple[Reward, Extract]:
    """The verifier of generator `builtin_name` (`tasks.spec.reward_problem` makes sure there is one)."""
    gen = BUILTIN_TASKS[builtin_name or ""]

    def score(record: Record, completions: list[str]) -> list[float]:
        return group_reward(gen, record, completions)

    return score, final_answer


@reward("python")
def build_python(spec: PythonReward, builtin_name: str | None, base_dir: Path) -> tuple[Reward, Extract]:
    try:
        fn = import_function(spec.function, base_dir)
    except SourceError as exc:
        raise RewardError(str(exc)) from None

    def score(record: Record, completions: list[str]) -> list:
        # as returned: the run checks each is a finite number (`curriculum.run.stream._grade`)
        return [fn(c, record.as_dict()) for c in completions]

    return score, whole
