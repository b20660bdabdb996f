"""The catalog: one YAML file naming the tasks, the model, the schedule, training and evaluation.

Each section's spec lives beside what it configures (`tasks.spec`, `schedulers.spec`, `trainer.config`);
this model only composes them. The checks that need several sections at once, the registries or the file
system are in `curriculum.catalog.checks`.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, field_validator

from curriculum.catalog.experiment import ExperimentSection
from curriculum.spec import Spec
from schedulers.spec import ScheduleSpec
from tasks.spec import TaskSpec
from trainer.config import EvaluationSpec, ModelSpec, TrainingSpec

NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")  # a file name on every system, never a path


class Catalog(Spec):
    """A task catalog: everything one training run needs."""

    name: str = Field(description="Catalog name; the default run folder starts with it.")
    seed: int = Field(0, description="Seeds every random choice (data order, sampling); same seed, same run.")
    model: ModelSpec = Field(description="The model to start from.")
    tasks: Annotated[list[TaskSpec], Field(min_length=1)] = Field(description="The tasks to train and evaluate.")
    schedule: ScheduleSpec = Field(description="How SFT and RL are mixed, step by step.")
    training: TrainingSpec = Field(default_factory=TrainingSpec, description="Optimizer and rollouts.")
    evaluation: EvaluationSpec = Field(default_factory=EvaluationSpec, description="Held-out evaluation.")
    experiment: ExperimentSection = None

    @field_validator("name")
    @classmethod
    def _plain_name(cls, name: str) -> str:
        # the default run folder is runs/<name>-<time>: a `/`, `..` or absolute path would put it elsewhere
        if not NAME.fullmatch(name):
            raise ValueError(
                f"{name!r} cannot name a run folder (runs/<name>-<time>): use letters, digits, _ . - only, "
                "at most 100 characters, not starting with . or -"
            )
        return name
