"""The scheduler's side of the loop: the `Scheduler` protocol, what it knows of a task (`TaskInfo`), and
the rule that splits a step's rows across tasks (`Mixer`, `BatchMix`).

A scheduler is `decide(step, measurements) -> Decision` plus `state_dict()` / `load_state_dict()`:
a pure function of its inputs and its explicit state, so a resumed run decides exactly as an
uninterrupted one. It sees `curriculum.signals.measurements.Measurements` and returns a
`curriculum.records.Decision` (both leaf records); `adaptive` says whether it reads the measurements
at all (a plan of an adaptive schedule is only nominal). `nominal(total_steps)` is the plan without the
per-step work: its decisions with no measurements as segments of steps (`schedulers.plan`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from curriculum.errors import UserError
from curriculum.records import Decision, TaskKind
from curriculum.signals.measurements import Measurements
from schedulers.plan import Segment, mix_segments


@dataclass(frozen=True)
class TaskInfo:
    """What a scheduler knows of a task before training."""

    id: str
    kind: TaskKind
    weight: float = 1.0
    has_sft: bool = True
    has_rl: bool = True
    requires: tuple[str, ...] = ()


def summary_mu(task_mu: dict[str, float], sft: dict[str, int], rl: dict[str, int]) -> float:
    """`Decision.mu` of a per-task decision: the mean of task_mu over the tasks with rows this step
    (over all of them on a step without rows)."""
    active = [t for t in task_mu if t in sft or t in rl] or list(task_mu)
    return sum(task_mu[t] for t in active) / len(active) if active else 0.0


class Scheduler(Protocol):
    """Turns measurements into a decision per step; all its state is in `state_dict()`."""

    adaptive: bool  # decides from measurements (False: its plan is exactly what it will do)

    def decide(self, step: int, measurements: Measurements) -> Decision: ...

    def nominal(self, total_steps: int) -> list[Segment]:
        """The decisions of steps 0..total_steps-1 with no measurements, as segments (`schedulers.plan`),
        made by a fresh scheduler without changing it."""
        ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


class SchedulerError(UserError):
    """A schedule cannot run on these tasks; the message says why."""


class Mixer:
    """Splits a step's `n` rows across tasks in proportion to their weights (smooth weighted round robin).

    Rounding rule: at each step every eligible task's credit grows by `n * weight / total weight`;
    then the `n` rows are handed out one at a time to the task with the most credit (ties go to the
    task listed first in the catalog), each row costing one credit. So every step gets exactly the
    `n` rows asked for, and after any number of steps each task has had its exact share to within
    one row, even when `n` is smaller than the number of tasks.
    """

    def __init__(self, order: list[str]):
        self.order = list(order)
        self.credit = {t: 0.0 for t in order}

    def split(self, n: int, weights: dict[str, float]) -> dict[str, int]:
        if n == 0 or not weights:
            return {}
        total = sum(weights.values())
        for task, w in weights.items():
            self.credit[task] += n * w / total
        rank = {t: i for i, t in enumerate(self.order)}
        out = {t: 0 for t in self.order if t in weights}
        for _ in range(n):
            best = max(out, key=lambda t: (self.credit[t], -rank[t]))
            out[best] += 1
            self.credit[best] -= 1.0
        return {t: k for t, k in out.items() if k}

    def state_dict(self) -> dict:
        return {"credit": dict(self.credit)}

    def load_state_dict(self, state: dict) -> None:
        self.credit = {t: float(state["credit"].get(t, 0.0)) for t in self.order}


class BatchMix:
    """The per-step SFT and RL rows of the mixing schedules: `sft_batch` demonstrations across tasks
    with demonstrations, `rl_batch` prompts across tasks with prompts, each by task weight."""

    def __init__(self, tasks: list[TaskInfo], sft_batch: int, rl_batch: int):
        self.sft_weights = {t.id: t.weight for t in tasks if t.has_sft}
        self.rl_weights = {t.id: t.weight for t in tasks if t.has_rl}
        self.sft_batch, self.rl_batch = sft_batch, rl_batch
        self.sft_mixer = Mixer([t.id for t in tasks])
        self.rl_mixer = Mixer([t.id for t in tasks])

    def check(self, needs_sft: bool, needs_rl: bool) -> None:
        """Refuse a schedule that asks for rows no task can give."""
        if needs_sft and self.sft_batch and not self.sft_weights:
            raise SchedulerError(
                "the schedule asks for SFT rows but no task has demonstrations (rows with a completion)"
            )
        if needs_rl and self.rl_batch and not self.rl_weights:
            raise SchedulerError("the schedule asks for RL prompts but no task has RL prompts")

    def rows(self, mu: float, rl_weights: dict[str, float] | None = None) -> tuple[dict[str, int], dict[str, int]]:
        """(SFT rows, RL rows) of a step at one mu, by task weight (RL: or by `rl_weights`): a part that
        weighs 0 is left out (mu = 0 carries no demonstrations, mu = 1 no prompts), since it would cost
        compute and train nothing."""
        return (self.sft() if mu > 0 else {}), (self.rl(rl_weights) if mu < 1 else {})

    def rl_weights_for(self, task_mu: dict[str, float]) -> dict[str, float]:
        """The task weights of the tasks that get RL prompts at these per-task mu (mu_t < 1)."""
        return {t: w for t, w in self.rl_weights.items() if task_mu[t] < 1}

    def sft_for(self, task_mu: dict[str, float]) -> dict[str, int]:
        """`sft_batch` demonstrations across the tasks whose mu_t > 0, by task weight."""
        return self.sft({t: w for t, w in self.sft_weights.items() if task_mu[t] > 0})

    def sft(self, weights: dict[str, float] | None = None) -> dict[str, int]:
        """`sft_batch` demonstrations by task weight, or by `weights` (e.g. a subset of `sft_weights`)."""
        return self.sft_mixer.split(self.sft_batch, self.sft_weights if weights is None else weights)

    def rl(self, weights: dict[str, float] | None = None) -> dict[str, int]:
        """`rl_batch` prompts by task weight, or by `weights` (e.g. a policy's shares)."""
        return self.rl_mixer.split(self.rl_batch, self.rl_weights if weights is None else weights)

    def segments(
        self,
        mus: list[float],
        stage_at: Callable[[int], str],
        sft_weighting: str = "none",
        rl_weights: dict[str, float] | None = None,
        task_mu: dict[str, float] | None = None,
        sft_weights: dict[str, float] | None = None,
    ) -> list[Segment]:
        """The plan of `rows` at these mu per step (`schedulers.plan.mix_segments`), by task weight or by
        the given weights."""
        return mix_segments(
            mus,
            stage_at,
            self.sft_batch,
            self.rl_batch,
            self.sft_weights if sft_weights is None else sft_weights,
            self.rl_weights if rl_weights is None else rl_weights,
            sft_weighting,
            task_mu,
        )

    def state_dict(self) -> dict:
        return {"sft": self.sft_mixer.state_dict(), "rl": self.rl_mixer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.sft_mixer.load_state_dict(state["sft"])
        self.rl_mixer.load_state_dict(state["rl"])


class MixState:
    """`state_dict` / `load_state_dict` of a policy whose state is its row mixers (`self.mix`)."""

    mix: BatchMix

    def state_dict(self) -> dict:
        return {"mix": self.mix.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.mix.load_state_dict(state["mix"])
