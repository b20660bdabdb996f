"""The schedule specs: one per scheduler, picked by `kind:` (a discriminated union), and the task order
(`order:`) any of them can run inside. `schedulers.build.build_scheduler` turns a spec into a scheduler.
Adding a scheduler: its spec here (and in `ScheduleSpec`), its module, its name in `schedulers.build`.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from curriculum.records import SFTWeighting
from curriculum.spec import Fraction, NonNegInt, PosInt, Spec


class OrderBase(Spec):
    """Task stages: one task per stage, in an order; the schedule's own policy mixes SFT and RL inside each
    stage, its step counter restarting at every stage (e.g. `chord` mu decays again in each stage)."""

    stage_steps: list[PosInt] | None = Field(
        None,
        description="Steps of each stage, in training order (they must add up to training.steps); "
        "null = training.steps split evenly, the remainder going to the first stages.",
    )


class FixedOrder(OrderBase):
    """The order you give."""

    kind: Literal["fixed"]
    tasks: list[str] = Field(description="Every task id once, in training order (prerequisites first).")


class KindFirstOrder(OrderBase):
    """Structured tasks before creative ones (catalog order within a kind, prerequisites first)."""

    kind: Literal["kind_first"]


class BWTOrder(OrderBase):
    """The order with the best predicted final mean score from a measured transfer matrix (Omni-Thinker):
    a probe trains `probe_steps` steps on each task from the starting model and evaluates every task."""

    kind: Literal["bwt_order"]
    probe_steps: NonNegInt = Field(
        10, description="Steps of the probe burst on each task (they count as compute); 0 = structured first."
    )
    exhaustive_limit: PosInt = Field(7, description="Search every order up to this many tasks, greedily beyond.")
    probe_mu: Fraction | None = Field(
        None,
        description="SFT weight of the probe bursts: null = the schedule's own mix (a burst then sees the start of "
        "its stage, e.g. chord's SFT-heavy shift); a number = that constant mu (0 = RL only).",
    )


OrderSpec = Annotated[Union[FixedOrder, KindFirstOrder, BWTOrder], Field(discriminator="kind")]


class Batching(Spec):
    """Rows per step and the optional task order, shared by the schedules."""

    sft_batch: NonNegInt = Field(16, description="SFT demonstrations per step (split across tasks by weight).")
    rl_batch: NonNegInt = Field(
        8, description="RL prompts per step (split across tasks by weight); each gets G rollouts."
    )
    order: OrderSpec | None = Field(
        None,
        description="Train the tasks in stages, one task per stage (`fixed`, `kind_first`, `bwt_order`); "
        "this schedule then runs inside each stage. null = all tasks together.",
    )


class SequentialSchedule(Batching):
    """The classic recipe: SFT only for `sft_steps` steps (mu = 1), then RL only (mu = 0). With `switch: best`,
    SFT ends earlier when the mean held-out score stops rising, and RL starts from the best SFT evaluation."""

    kind: Literal["sequential"]
    sft_steps: NonNegInt = Field(description="Steps of SFT before RL starts (with `switch: best`: at most).")
    switch: Literal["fixed", "best"] = Field(
        "fixed",
        description="`fixed`: RL starts at sft_steps. `best`: RL starts once `patience` evaluations in a row have "
        "not beaten the best mean held-out score of the SFT stage (or at sft_steps), from the weights of that "
        "best evaluation (step 0, the starting model, is not an SFT checkpoint and never counts), with a fresh "
        "optimizer; the steps after it still count as compute.",
    )
    patience: PosInt = Field(3, description="`switch: best`: evaluations without a new best before the switch.")

    @model_validator(mode="after")
    def _best_needs_no_order(self) -> "SequentialSchedule":
        if self.switch == "best" and self.order is not None:
            raise ValueError("switch: best restores weights mid-run and cannot run inside task stages (order)")
        return self


class ConstantSchedule(Batching):
    """The same mu and task mix at every step."""

    kind: Literal["constant"]
    mu: Fraction = Field(description="SFT weight in (1 - mu) * L_RL + mu * L_SFT.")
    sft_weighting: SFTWeighting = Field("none", description="Token weights on the SFT loss.")


CHORD_PRESETS: dict[str, dict[str, object]] = {
    # CHORD (arXiv 2508.11408): mu decays from 0.9 to 0.05 over 200 steps, no token weighting.
    "chord-mu": {"warmup_steps": 0, "decay_steps": 200, "peak": 0.9, "valley": 0.05, "sft_weighting": "none"},
    # CHORD-phi: constant mu = 0.1 with phi = p(1-p) token weights.
    "chord-phi": {"warmup_steps": 0, "decay_steps": 0, "peak": 0.1, "valley": 0.1, "sft_weighting": "phi"},
}


class ChordSchedule(Batching):
    """SFT as a weighted auxiliary loss inside RL (CHORD): mu warms up linearly from 0 to `peak`, decays by a
    half cosine to `valley` over `decay_steps`, then stays at `valley`. Explicit fields override a preset."""

    kind: Literal["chord"]
    preset: Literal["chord-mu", "chord-phi"] | None = Field(None, description="Start from a paper preset.")
    warmup_steps: NonNegInt = Field(0, description="Steps of linear warmup of mu from 0 to peak.")
    decay_steps: NonNegInt = Field(200, description="Steps of half-cosine decay from peak to valley.")
    peak: Fraction = Field(0.9, description="mu at the end of warmup.")
    valley: Fraction = Field(0.05, description="mu after the decay.")
    sft_weighting: SFTWeighting = Field(
        "none", description="Token weights on the SFT loss: `phi` = p(1-p), `is` = p (stop-gradient)."
    )

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("preset"), str) and data["preset"] in CHORD_PRESETS:
            return {**CHORD_PRESETS[data["preset"]], **data}
        return data

    @model_validator(mode="after")
    def _valley_below_peak(self) -> "ChordSchedule":
        _check_valley(self.valley, self.peak)
        return self


Band = tuple[Annotated[float, Field(ge=0.0)], Annotated[float, Field(ge=0.0)]]


def _check_valley(valley: float, peak: float) -> None:
    if valley > peak:
        raise ValueError(f"valley ({valley}) must not exceed peak ({peak})")


def _check_band(name: str, band: tuple[float, float]) -> None:
    if band[0] > band[1]:
        raise ValueError(f"{name}: lo ({band[0]}) must not exceed hi ({band[1]})")


class RewardAdaptiveSchedule(Batching):
    """Per-task mu from the task's recent RL reward: mu_t = clip(tau - mean reward, 0, 1) (CHORD app. B.1)."""

    kind: Literal["reward_adaptive"]
    tau: Annotated[float, Field(ge=0.0)] = Field(
        0.5,
        description="Reward at and above which a task gets no SFT: mu_t = clip(tau - mean reward, 0, 1). "
        "0.5 for 0/1 rewards: a task solved half the time no longer leans on demonstrations.",
    )
    window: PosInt = Field(
        10, description="Latest rl/<task>/reward points (steps with that task's RL prompts) averaged."
    )
    initial_mu: Fraction | None = Field(
        None, description="mu_t of a task before its first reward; null = min(tau, 1), as if its reward were 0."
    )
    sft_weighting: SFTWeighting = Field(
        "none", description="Token weights on the SFT loss: `phi` = p(1-p), `is` = p (stop-gradient)."
    )


class PhaseAwareSchedule(Batching):
    """Per-task mu: `peak` until the task's held-out score shows overfitting, then a half-cosine decay to `valley`.

    Phases come from `curriculum.signals.phases.detect_phases`; rules in `schedulers.phase_aware`."""

    kind: Literal["phase_aware"]
    peak: Fraction = Field(0.9, description="mu_t before overfitting is detected for the task.")
    valley: Fraction = Field(0.05, description="mu_t after the decay.")
    decay_steps: NonNegInt = Field(
        50, description="Steps of half-cosine decay from peak to valley after detection; 0 = drop at once."
    )
    drop: Annotated[float, Field(ge=0.0)] = Field(
        0.02, description="detect_phases: score change (absolute) that counts as a shift or a recovery."
    )
    overfit_drop: Annotated[float, Field(ge=0.0)] = Field(
        0.03, description="detect_phases: fall below the best score that counts as a decline."
    )
    patience: PosInt = Field(2, description="detect_phases: consecutive declined evals before `overfit`.")
    sft_weighting: SFTWeighting = Field(
        "none", description="Token weights on the SFT loss: `phi` = p(1-p), `is` = p (stop-gradient)."
    )

    @model_validator(mode="after")
    def _valley_below_peak(self) -> "PhaseAwareSchedule":
        _check_valley(self.valley, self.peak)
        return self


class EntropyGuardSchedule(Batching):
    """Constant mu, plus more RL for a creative task and more SFT for a structured one whose entropy collapses.

    Healthy entropy is a band per task kind; rules in `schedulers.entropy_guard`."""

    kind: Literal["entropy_guard"]
    mu: Fraction = Field(0.1, description="Base SFT weight of every task.")
    structured_band: Band = Field(
        (0.05, 1.0),
        description="[lo, hi] eval entropy (nats per token) of a healthy structured task; the default fits the "
        "built-in tiny model.",
    )
    creative_band: Band = Field(
        (0.8, 2.0),
        description="[lo, hi] eval entropy (nats per token) of a healthy creative task; the default fits the "
        "built-in tiny model.",
    )
    boost: Annotated[float, Field(gt=1.0)] = Field(
        1.5, description="Factor on a collapsing creative task's RL weight, per eval below its band."
    )
    max_share: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        0.5, description="Largest share of RL prompts boosting may give a task (never below its plain share)."
    )
    saturation: Fraction = Field(
        0.95, description="A structured task scoring at least this may collapse its entropy: no mu raise."
    )
    mu_step: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        0.1, description="Raise (and later lowering) of a structured task's mu_t per eval."
    )
    mu_max: Fraction = Field(0.5, description="Cap of a structured task's raised mu_t.")

    @model_validator(mode="after")
    def _check(self) -> "EntropyGuardSchedule":
        _check_band("structured_band", self.structured_band)
        _check_band("creative_band", self.creative_band)
        if self.mu > self.mu_max:
            raise ValueError(f"mu ({self.mu}) must not exceed mu_max ({self.mu_max})")
        return self


class BanditSchedule(Batching):
    """RL prompts shared by a UCB bandit on each task's mean |advantage| (DUMP, arXiv 2504.09710)."""

    kind: Literal["bandit"]
    mu: Fraction = Field(0.0, description="Constant SFT weight; 0 = RL only (no SFT rows).")
    window: PosInt = Field(
        300, description="Latest rollouts of a task whose mean |advantage| is its learning progress."
    )
    c: Annotated[float, Field(ge=0.0)] = Field(1.0, description="Weight of the UCB exploration bonus.")
    temperature: Annotated[float, Field(gt=0.0)] = Field(0.1, description="Softmax temperature over UCB scores.")
    drop_zero_variance: bool = Field(
        False, description="Drop RL groups whose rewards are all equal (they carry no advantage)."
    )


class GateSchedule(Batching):
    """RL where a prompt failed on every rollout trains on its demonstration instead, in the same step (HPT).

    The loop applies the gate per prompt; rules in `schedulers.gate`."""

    kind: Literal["gate"]
    mu: Fraction = Field(0.0, description="Base SFT weight; above 0 the step also carries `sft_batch` demonstrations.")
    gate_below: float = Field(
        0.0, description="A prompt whose G rewards are all <= this has its demonstration trained as SFT."
    )


ScheduleSpec = Annotated[
    Union[
        SequentialSchedule,
        ConstantSchedule,
        ChordSchedule,
        RewardAdaptiveSchedule,
        PhaseAwareSchedule,
        EntropyGuardSchedule,
        BanditSchedule,
        GateSchedule,
    ],
    Field(discriminator="kind"),
]
