"""The catalog schema: a tree of pydantic models, one per YAML section.

A catalog names its tasks (each `structured` or `creative`, with where its SFT demonstrations, RL
prompts and eval set come from, and its reward), the model to start from, the schedule that mixes
SFT and RL step by step, and the training and evaluation settings. Plugins are picked by a `kind:`
tag (a discriminated union), so an error names the variant. Unknown keys are rejected everywhere.

This module only describes data. Builders in `tasks/`, `schedulers/` and `trainer/` turn these specs
into objects; `curriculum.catalog` loads YAML into them and runs the checks that need the registries
(built-in task names, prerequisite cycles, data files).
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Spec(BaseModel):
    """Base of every catalog section: unknown keys are errors, values are re-checked on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


NonNegInt = Annotated[int, Field(ge=0)]
PosInt = Annotated[int, Field(gt=0)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]

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


class NumericReward(Spec):
    """1 when the last number in the completion equals the last number in the reference, within a tolerance."""

    kind: Literal["numeric"]
    tolerance: Annotated[float, Field(ge=0.0)] = Field(1e-6, description="Absolute tolerance.")


class RegexReward(Spec):
    """1 when the completion matches a regex (`re.search`), else 0."""

    kind: Literal["regex"]
    pattern: str = Field(description="Python regex; `{answer}` is replaced by the escaped reference answer.")


class BuiltinReward(Spec):
    """The verifier of the task's built-in source (creative tasks: validity x novelty within the rollout group).
    Needs the task's RL and eval rows to come from that built-in generator."""

    kind: Literal["builtin"]


class PythonReward(Spec):
    """A user function `fn(completion: str, record: dict) -> float`. Trusted code: it runs in-process."""

    kind: Literal["python"]
    function: str = Field(description="`package.module:function`, importable from the working directory.")


RewardSpec = Annotated[
    Union[ExactReward, NumericReward, RegexReward, BuiltinReward, PythonReward], Field(discriminator="kind")
]


# --------------------------------------------------------------------------------------------------
# tasks


class TaskSpec(Spec):
    """One task: its label, its data (SFT demonstrations, RL prompts, eval set), its reward, its prerequisites."""

    id: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$", description="Unique task id (letters, digits, _ . -).")
    kind: Literal["structured", "creative"] = Field(
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
        import re

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


# --------------------------------------------------------------------------------------------------
# model


class BuiltinModel(Spec):
    """The built-in tiny Llama-architecture model with a character-level tokenizer (CPU, no download)."""

    kind: Literal["builtin"]
    name: Literal["tiny-base", "tiny-random"] = Field(
        "tiny-base",
        description="`tiny-base`: pre-trained by this project on base-style data of the built-in tasks; "
        "`tiny-random`: the same architecture, random weights.",
    )


class HFModel(Spec):
    """Any Hugging Face causal LM, by hub id or local path (AutoModelForCausalLM + AutoTokenizer)."""

    kind: Literal["hf"]
    name: str = Field(description="Hub id (e.g. `Qwen/Qwen2.5-0.5B-Instruct`) or a local folder.")
    revision: str | None = Field(None, description="Git revision on the hub.")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="Weight dtype: `auto` is float32 for training (bf16 autocast on CUDA)."
    )
    system_prompt: str | None = Field(None, description="System message for chat templates.")
    trust_remote_code: bool = Field(False, description="Allow model code from the hub (trusted code).")


ModelSpec = Annotated[Union[BuiltinModel, HFModel], Field(discriminator="kind")]


# --------------------------------------------------------------------------------------------------
# schedules


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
    """The classic recipe: SFT only for `sft_steps` steps (mu = 1), then RL only (mu = 0)."""

    kind: Literal["sequential"]
    sft_steps: NonNegInt = Field(description="Steps of SFT before RL starts.")


class ConstantSchedule(Batching):
    """The same mu and task mix at every step."""

    kind: Literal["constant"]
    mu: Fraction = Field(description="SFT weight in (1 - mu) * L_RL + mu * L_SFT.")
    sft_weighting: Literal["none", "phi", "is"] = Field("none", description="Token weights on the SFT loss.")


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
    sft_weighting: Literal["none", "phi", "is"] = Field(
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
        if self.valley > self.peak:
            raise ValueError(f"valley ({self.valley}) must not exceed peak ({self.peak})")
        return self


SFTWeightingField = Literal["none", "phi", "is"]
Band = tuple[Annotated[float, Field(ge=0.0)], Annotated[float, Field(ge=0.0)]]


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
    sft_weighting: SFTWeightingField = Field(
        "none", description="Token weights on the SFT loss: `phi` = p(1-p), `is` = p (stop-gradient)."
    )


class PhaseAwareSchedule(Batching):
    """Per-task mu: `peak` until the task's held-out score shows overfitting, then a half-cosine decay to `valley`.

    Phases come from `curriculum.phases.detect_phases`; rules in `schedulers.phase_aware`."""

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
    sft_weighting: SFTWeightingField = Field(
        "none", description="Token weights on the SFT loss: `phi` = p(1-p), `is` = p (stop-gradient)."
    )

    @model_validator(mode="after")
    def _valley_below_peak(self) -> "PhaseAwareSchedule":
        if self.valley > self.peak:
            raise ValueError(f"valley ({self.valley}) must not exceed peak ({self.peak})")
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


# --------------------------------------------------------------------------------------------------
# training and evaluation


class RolloutSpec(Spec):
    """Sampling of RL rollouts."""

    group_size: Annotated[int, Field(ge=2)] = Field(4, description="G: completions sampled per RL prompt.")
    max_new_tokens: PosInt = Field(40, description="Longest completion, in tokens.")
    temperature: Annotated[float, Field(gt=0.0)] = Field(
        1.0, description="Sampling temperature (also used for RL log-probs)."
    )


class GRPOSpec(Spec):
    """The GRPO clipped surrogate."""

    clip_low: Annotated[float, Field(ge=0.0, lt=1.0)] = Field(0.2, description="Ratio clipped below at 1 - clip_low.")
    clip_high: Annotated[float, Field(ge=0.0)] = Field(
        0.2, description="Ratio clipped above at 1 + clip_high (set above clip_low for an asymmetric clip)."
    )
    kl_coef: Annotated[float, Field(ge=0.0)] = Field(
        0.0, description="Weight of the k3 KL to the starting model; 0 = off."
    )
    adv_eps: Annotated[float, Field(gt=0.0)] = Field(1e-6, description="eps in (r - mean) / (std + eps).")
    hicra_alpha: Annotated[float, Field(ge=0.0)] | None = Field(
        None,
        description="HICRA: planning tokens (a task's `planning` markers) get advantage A + alpha * |A|; "
        "null = off (0.2 is the paper's value).",
    )


class TrainingSpec(Spec):
    """Optimizer, rollouts, checkpoints, device."""

    steps: PosInt = Field(200, description="Optimizer steps.")
    lr: Annotated[float, Field(gt=0.0)] = Field(1e-4, description="Peak learning rate (AdamW).")
    weight_decay: Annotated[float, Field(ge=0.0)] = Field(0.0, description="AdamW weight decay.")
    warmup_steps: NonNegInt = Field(0, description="Linear learning-rate warmup.")
    lr_decay: Literal["constant", "cosine"] = Field("constant", description="Learning rate after warmup.")
    grad_clip: Annotated[float, Field(gt=0.0)] | None = Field(1.0, description="Max global gradient norm; null = off.")
    micro_batch: PosInt | None = Field(
        None, description="Rows per forward/backward (gradient accumulation); null = whole part at once."
    )
    rollout: RolloutSpec = Field(default_factory=RolloutSpec, description="RL sampling.")
    grpo: GRPOSpec = Field(default_factory=GRPOSpec, description="RL loss.")
    checkpoint_every: NonNegInt = Field(100, description="Steps between checkpoints; 0 = only at the end.")
    keep_checkpoints: PosInt = Field(2, description="Most recent checkpoints kept on disk.")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field("auto", description="`auto`: cuda > mps > cpu.")


class EvaluationSpec(Spec):
    """Held-out evaluation of every task."""

    every: NonNegInt = Field(
        50, description="Steps between evaluations (also at step 0 and at the end); 0 = start and end only."
    )
    max_new_tokens: PosInt | None = Field(
        None, description="Longest eval completion; default: training.rollout.max_new_tokens."
    )
    temperature: Annotated[float, Field(gt=0.0)] = Field(
        1.0, description="Temperature of the k samples (sampled score, entropy, unique answers)."
    )
    samples: PosInt = Field(4, description="k: sampled completions per eval prompt.")
    kl_samples: NonNegInt = Field(
        2,
        description="Completions per eval prompt sampled from the base model for eval/<task>/kl_base, the "
        "forward KL(base || policy) (full vocabulary per token); 0 = off (saves a frozen copy of the model).",
    )
    kl_estimator: Literal["full", "k3"] = Field(
        "full",
        description="`full`: eval/<task>/kl_base as above; `k3`: eval/<task>/kl_k3, the cheaper k3 estimate of "
        "KL(policy || base) on the policy's own eval samples (no base sampling).",
    )
    batch_size: PosInt = Field(128, description="Sequences per generation call.")


class Catalog(Spec):
    """A task catalog: everything one training run needs."""

    name: str = Field(description="Catalog name; the default run folder starts with it.")
    seed: int = Field(0, description="Seeds every random choice (data order, sampling); same seed, same run.")
    model: ModelSpec = Field(description="The model to start from.")
    tasks: Annotated[list[TaskSpec], Field(min_length=1)] = Field(description="The tasks to train and evaluate.")
    schedule: ScheduleSpec = Field(description="How SFT and RL are mixed, step by step.")
    training: TrainingSpec = Field(default_factory=TrainingSpec, description="Optimizer and rollouts.")
    evaluation: EvaluationSpec = Field(default_factory=EvaluationSpec, description="Held-out evaluation.")
