"""The trainer's specs: the model to start from, optimizer and rollouts (`training`), held-out evaluation
(`evaluation`). The trainer takes these typed specs as they are; the catalog composes them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import Field, field_validator, model_validator

from curriculum.spec import NonNegInt, PosInt, Spec

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
        "auto",
        description="Compute dtype of the forward passes; the weights and the optimizer are always float32 "
        "(master weights). `float32`: full float32; `bfloat16`: bf16 autocast (mixed precision); `auto`: the "
        "checkpoint's dtype (a bf16 or fp16 checkpoint computes in bf16 autocast, a float32 one in float32, "
        "with bf16 autocast on CUDA). `float16` is refused: it needs loss scaling, which this engine does not do.",
    )

    @field_validator("dtype")
    @classmethod
    def _no_float16(cls, dtype: str) -> str:
        if dtype == "float16":
            raise ValueError(
                "float16 training needs loss scaling, which this engine does not do (small gradients underflow); "
                "use dtype: bfloat16 (bf16 mixed precision, float32 master weights) or float32"
            )
        return dtype

    system_prompt: str | None = Field(None, description="System message for chat templates.")
    chat_template: bool = Field(
        True, description="Use the tokenizer's chat template if it has one; false = plain text (a base model)."
    )
    template_args: dict[str, Any] = Field(
        default_factory=dict,
        description="Extra arguments of the chat template (e.g. `{enable_thinking: false}` for Qwen3).",
    )
    prompt_format: str | None = Field(
        None,
        description="Without a chat template: the prompt as text around `{prompt}` (e.g. `Question: {prompt}\n"
        "Answer:`), so a base model sees where the answer starts; null = the prompt as it is.",
    )

    @field_validator("prompt_format")
    @classmethod
    def _has_slot(cls, value: str | None) -> str | None:
        if value is not None and value.count("{prompt}") != 1:
            raise ValueError("prompt_format must contain {prompt} exactly once")
        return value

    trust_remote_code: bool = Field(False, description="Allow model code from the hub (trusted code).")


ModelSpec = Annotated[Union[BuiltinModel, HFModel], Field(discriminator="kind")]


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


BUDGET_OVERRUN = 4  # a run with a compute budget ends by this many times training.steps, budget reached or not


def step_limit(training: "TrainingSpec") -> int:
    """The last step a run may take: training.steps, or BUDGET_OVERRUN times it under a compute budget."""
    return training.steps if training.compute_budget is None else training.steps * BUDGET_OVERRUN


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
    dropout: bool = Field(
        False,
        description="The model's dropout in the SFT forward (seeded per step from the run's seed). The rollouts "
        "and the RL forward always run without it, so the RL log-probs match the sampler's (ratio 1, k3 0 at "
        "the start); false = no dropout anywhere, as in most RL fine-tuning.",
    )
    max_seq_len: PosInt | None = Field(
        None,
        description="Longest SFT sequence (prompt + demonstration) in tokens: a longer demonstration is cut at "
        "its end to fit, losing its end-of-turn token (the run and `curriculum plan` say how many of each task "
        "are cut); null = no limit.",
    )
    logit_chunk: PosInt | None = Field(
        1024,
        description="Memory budget of the full-vocabulary computations (log-softmax, its gradient, KL to the "
        "base), in positions whose float32 scores are held at once: about logit_chunk x vocabulary x 4 bytes x 2 "
        "transient (x 6 in the KL probe), 1.2 GB at a 151,936 vocabulary. It also caps the sequences of each "
        "teacher-forced pass of the evaluation's KL probes at logit_chunk / response length. null = no chunking.",
    )
    gradient_checkpointing: bool = Field(
        False,
        description="Recompute each decoder layer's activations in the backward pass instead of keeping them "
        "(about a third more compute, far less activation memory); hf models that support it, without dropout.",
    )
    rollout: RolloutSpec = Field(default_factory=RolloutSpec, description="RL sampling.")
    grpo: GRPOSpec = Field(default_factory=GRPOSpec, description="RL loss.")
    compute_budget: Annotated[float, Field(gt=0.0)] | None = Field(
        None,
        description="Training FLOPs (as `curriculum.compute` counts them) at which the run ends: the step that "
        "reaches the budget is the last. `steps` then shapes the schedule, and the run may end before it or go "
        f"past it (the schedule's decisions go on as after its end), up to {BUDGET_OVERRUN} x steps. null = off.",
    )
    checkpoint_every: NonNegInt = Field(100, description="Steps between checkpoints; 0 = only at the end.")
    keep_checkpoints: PosInt = Field(2, description="Most recent checkpoints kept on disk.")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field("auto", description="`auto`: cuda > mps > cpu.")
    parallel: Literal["ddp", "fsdp"] = Field(
        "ddp",
        description="Under torchrun with more than one process: `ddp` replicates the weights and all-reduces the "
        "gradients; `fsdp` shards weights, gradients and optimizer state (FSDP2) between steps "
        "(`trainer.distributed`). One process: ignored.",
    )

    @model_validator(mode="after")
    def _budget_needs_no_decay_to_zero(self) -> "TrainingSpec":
        if self.compute_budget is not None and self.lr_decay == "cosine":
            raise ValueError(
                "compute_budget with lr_decay: cosine: the learning rate reaches 0 at training.steps while a "
                "budget run may go on past it; use lr_decay: constant"
            )
        return self


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


def eval_max_new_tokens(training: TrainingSpec, evaluation: EvaluationSpec) -> int:
    """The longest eval completion: `evaluation.max_new_tokens`, by default the rollouts' own."""
    return evaluation.max_new_tokens or training.rollout.max_new_tokens
