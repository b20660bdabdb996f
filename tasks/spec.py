"""The task specs: a task's label, where its SFT demonstrations, RL prompts and eval set come from, and its
reward. A data source and a reward are picked by a `kind:` tag (a discriminated union), so an error names
the variant. `tasks.build.build_task` turns a `TaskSpec` into a loaded task.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Union

from pydantic import Field, field_validator, model_validator

from curriculum.records import TaskKind
from curriculum.spec import NonNegInt, PosInt, Spec

# --------------------------------------------------------------------------------------------------
# data sources


class FieldMap(Spec):
    """Which column of a file or dataset holds each part of a record."""

    prompt: str = Field("prompt", description="Column with the prompt text (required in every row).")
    completion: str = Field(
        "completion", description="Column with a demonstration (the SFT target); rows without one are RL/eval only."
    )
    answer: str = Field("answer", description="Column with the reference answer the reward checks against.")


class BuiltinSource(Spec):
    """A built-in synthetic task generator (no download; deterministic from the catalog seed)."""

    kind: Literal["builtin"]
    name: str = Field(description="Built-in task generator, e.g. `addition`; `curriculum ls` lists them.")
    style: Literal["base", "expert"] = Field(
        "base",
        description="Style of the demonstrations: `base` is the terse answer a base model gives; `expert` "
        "puts a worked scratchpad before the answer (SFT on it shifts the policy).",
    )


class FileSource(Spec):
    """Rows from local files: one file (its rows are split `train`) or one file per split."""

    kind: Literal["jsonl", "csv", "parquet"]
    path: str | dict[str, str] = Field(
        description="A file, or a mapping split -> file (e.g. {train: a.jsonl, test: b.jsonl}). "
        "Relative paths are taken from the catalog file's folder."
    )
    fields: FieldMap = Field(default_factory=FieldMap, description="Column names for prompt, completion, answer.")


class DiskSource(Spec):
    """A Hugging Face dataset saved with `datasets.save_to_disk` (a Dataset or a DatasetDict)."""

    kind: Literal["disk"]
    path: str = Field(description="Folder written by `save_to_disk`; relative to the catalog file's folder.")
    fields: FieldMap = Field(default_factory=FieldMap, description="Column names for prompt, completion, answer.")


class HubSource(Spec):
    """A dataset loaded with `datasets.load_dataset(name, config)`: a hub id, or a local folder of data files."""

    kind: Literal["hub"]
    name: str = Field(description="Dataset id on the hub (e.g. `openai/gsm8k`) or a local dataset folder.")
    config: str | None = Field(None, description="Dataset configuration name (e.g. `main`).")
    revision: str | None = Field(None, description="Git revision of the hub dataset; pin it for reproducible runs.")
    fields: FieldMap = Field(default_factory=FieldMap, description="Column names for prompt, completion, answer.")


class PythonSource(Spec):
    """Rows from a user function `fn(split: str, seed: int) -> iterable of dicts`. Trusted code: it runs in-process."""

    kind: Literal["python"]
    function: str = Field(description="`package.module:function`, importable from the working directory.")
    fields: FieldMap = Field(default_factory=FieldMap, description="Keys for prompt, completion, answer.")


SourceSpec = Annotated[
    Union[BuiltinSource, FileSource, DiskSource, HubSource, PythonSource], Field(discriminator="kind")
]


class DataUse(Spec):
    """How one part of a task (SFT demonstrations, RL prompts) draws from its source."""

    source: SourceSpec | None = Field(None, description="Overrides the task's `source` for this part.")
    split: str = Field("train", description="Split to draw from.")
    size: NonNegInt | None = Field(
        None, description="Rows to use (the first `size` of a seeded shuffle); null = all; 0 turns this part off."
    )


class EvalUse(Spec):
    """The held-out set a task is scored on."""

    source: SourceSpec | None = Field(None, description="Overrides the task's `source` for the eval set.")
    split: str = Field(
        "test",
        description="Split to score on. If it is also a training split, the eval rows are held out of training.",
    )
    size: PosInt = Field(64, description="Number of eval prompts.")


# --------------------------------------------------------------------------------------------------
# rewards


class ExactReward(Spec):
    """1 when the extracted answer equals the reference answer, else 0."""

    kind: Literal["exact"]
    pattern: str | None = Field(
        None,
        description="Regex whose first group extracts the answer from a completion; default: the text after "
        "the last `=>`, or the whole completion.",
    )
    ignore_case: bool = Field(False, description="Compare case-insensitively.")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        return pattern if pattern is None else _valid_regex(pattern)


class NumericReward(Spec):
    """1 when the last number in the completion equals the last number in the reference, within a tolerance."""

    kind: Literal["numeric"]
    tolerance: Annotated[float, Field(ge=0.0)] = Field(1e-6, description="Absolute tolerance.")


class RegexReward(Spec):
    """1 when the completion matches a regex (`re.search`), else 0."""

    kind: Literal["regex"]
    pattern: str = Field(description="Python regex; `{answer}` is replaced by the escaped reference answer.")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        return _valid_regex(pattern, answer="0")  # any escaped answer stands where {answer} goes


class BuiltinReward(Spec):
    """The verifier of the task's built-in source (creative tasks: validity x novelty within the rollout group).
    Needs the task's RL and eval rows to come from that built-in generator."""

    kind: Literal["builtin"]


class PythonReward(Spec):
    """A user function `fn(completion: str, record: dict) -> float`. Trusted code: it runs in-process."""

    kind: Literal["python"]
    function: str = Field(description="`package.module:function`, importable from the working directory.")


def _valid_regex(pattern: str, answer: str | None = None) -> str:
    """`pattern` when Python's `re` compiles it (with `{answer}` replaced by `answer`), else ValueError with
    the pattern and re's own message: a bad regex is refused by `curriculum validate`, not mid-run."""
    try:
        re.compile(pattern if answer is None else pattern.replace("{answer}", re.escape(answer)))
    except re.error as exc:
        raise ValueError(f'not a regular expression: "{pattern}" ({exc})') from None
    return pattern


RewardSpec = Annotated[
    Union[ExactReward, NumericReward, RegexReward, BuiltinReward, PythonReward], Field(discriminator="kind")
]


# --------------------------------------------------------------------------------------------------
# tasks


class TaskSpec(Spec):
    """One task: its label, its data (SFT demonstrations, RL prompts, eval set), its reward, its prerequisites."""

    id: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$", description="Unique task id (letters, digits, _ . -).")
    kind: TaskKind = Field(
        description="`structured`: one verifiable answer (RL shrinks entropy); `creative`: many valid answers "
        "(RL expands entropy)."
    )
    source: SourceSpec | None = Field(None, description="Where the task's rows come from (SFT, RL and eval).")
    sft: DataUse = Field(default_factory=DataUse, description="SFT demonstrations: split, size, optional own source.")
    rl: DataUse = Field(default_factory=DataUse, description="RL prompts: split, size, optional own source.")
    eval: EvalUse = Field(default_factory=EvalUse, description="Held-out eval set: split and size.")
    reward: RewardSpec = Field(description="How a completion is scored.")
    requires: list[str] = Field(default_factory=list, description="Ids of prerequisite tasks (must form a DAG).")
    weight: Annotated[float, Field(gt=0.0)] = Field(
        1.0, description="Share of each step's rows relative to other tasks."
    )
    planning: list[str] | str | None = Field(
        None,
        description="Planning markers: a list of phrases, or one regular expression. Tokens inside a match are "
        "planning tokens: their entropy is reported apart (eval/<task>/entropy_plan, entropy_exec) and "
        "HICRA (`training.grpo.hicra_alpha`) boosts their advantage.",
    )

    @model_validator(mode="after")
    def _planning_compiles(self) -> "TaskSpec":
        if isinstance(self.planning, str):
            try:
                re.compile(self.planning)
            except re.error as exc:
                raise ValueError(f"planning: not a regular expression ({exc})") from None
        elif isinstance(self.planning, list) and (not self.planning or not all(self.planning)):
            raise ValueError("planning: give at least one non-empty phrase")
        return self

    @model_validator(mode="after")
    def _has_source(self) -> "TaskSpec":
        if self.source is None and (self.sft.source is None or self.rl.source is None or self.eval.source is None):
            raise ValueError("a task needs `source`, or a `source` under each of sft, rl and eval")
        return self

    def source_of(self, part: Literal["sft", "rl", "eval"]) -> SourceSpec:
        """The source a part draws from: its own, else the task's."""
        own = getattr(self, part).source
        return own if own is not None else self.source  # type: ignore[return-value]

    def builtin_generator(self) -> str | None:
        """The built-in generator behind the task's RL and eval rows, if they share one; else None."""
        names = {s.name if s.kind == "builtin" else None for s in (self.source_of("rl"), self.source_of("eval"))}
        return names.pop() if len(names) == 1 else None


def reward_problem(spec: TaskSpec) -> tuple[tuple[str, ...], str] | None:
    """(path inside the task, message) when the reward cannot score the task's rows: a `builtin` reward is
    the verifier of a built-in generator, so the RL and eval rows must come from one (the rule is here
    once; `curriculum validate` and `tasks.build.build_task` both ask)."""
    if spec.reward.kind == "builtin" and spec.builtin_generator() is None:
        return ("reward", "kind"), "a builtin reward needs the task's RL and eval rows to come from one built-in source"
    return None
