"""Compute accounting: what a run costs (counted) and what a plan will cost (estimated), in tokens and FLOPs.

Every step record counts the tokens that went through the model (`trainer.step.train_step`):

    sft tokens        prompt + completion tokens of the SFT rows trained (gated prompts included)  forward + backward
    rl tokens         prompt + response tokens of the rollouts trained (dropped groups not)        forward + backward
    prefill tokens    prompt tokens of every rollout, read once while sampling                     forward
    generated tokens  sampled tokens of every rollout, one cached forward each                     forward
    reference tokens  the frozen starting model's forward for the KL penalty (grpo.kl_coef > 0)    forward

and every evaluation the tokens it passed through a model (greedy and sampled decoding, the KL probe's base
samples and teacher-forced passes). Padding is never counted. With N the model's parameters (each
parameter once: a tied embedding counts once), FLOPs follow the usual 6N / 2N rule (Kaplan et al. 2020):
a token costs 2N in a forward pass and 4N more in the backward; the attention term that grows with
context length is left out, so this under-counts long sequences a little and never counts padding.

    training FLOPs = 6 N (sft + rl tokens) + 2 N (prefill + generated + reference tokens)
    eval FLOPs     = 2 N eval tokens

The `bwt_order` transfer probe's bursts are training (their steps are counted like the run's own, in
`probe_flops` too); its evaluations are eval compute. `training.compute_budget` and
`curriculum experiment --match compute` compare training FLOPs.

A plan is estimated the same way before anything runs (`plan_cost`): each SFT row costs its task's mean
prompt + demonstration tokens; each RL prompt G rollouts of its task's mean prompt tokens plus a response of
the task's mean demonstration length, capped at `max_new_tokens` (the `expected` figure), or of exactly
`max_new_tokens` (the `upper` bound); every rollout trained. Real responses may be shorter or longer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from curriculum.records import (
    EVAL_TOKENS,
    GENERATED_TOKENS,
    PREFILL_TOKENS,
    REFERENCE_TOKENS,
    RL_SEQ_TOKENS,
    SFT_SEQ_TOKENS,
    EvalRecord,
    StepRecord,
)

TRAIN_FLOPS_PER_TOKEN = 6  # x N: forward (2N) and backward (4N)
FORWARD_FLOPS_PER_TOKEN = 2  # x N: forward only

STEP_FIELDS = {
    "sft_tokens": SFT_SEQ_TOKENS,
    "rl_tokens": RL_SEQ_TOKENS,
    "prefill_tokens": PREFILL_TOKENS,
    "generated_tokens": GENERATED_TOKENS,
    "reference_tokens": REFERENCE_TOKENS,
}


def training_flops(params: int, sft: float, rl: float, prefill: float, generated: float, reference: float) -> float:
    """6 N (sft + rl) + 2 N (prefill + generated + reference)."""
    trained = TRAIN_FLOPS_PER_TOKEN * (sft + rl)
    forward = FORWARD_FLOPS_PER_TOKEN * (prefill + generated + reference)
    return float(params) * (trained + forward)


@dataclass
class Ledger:
    """The running compute of one run: token counts by kind, FLOPs from them."""

    params: int
    sft_tokens: int = 0
    rl_tokens: int = 0
    prefill_tokens: int = 0
    generated_tokens: int = 0
    reference_tokens: int = 0
    eval_tokens: int = 0
    probe_flops: float = 0.0
    steps: int = 0

    def add_step(self, record: StepRecord) -> None:
        self.add_step_row(record.row())

    def add_step_row(self, row: dict[str, Any]) -> None:
        for name, column in STEP_FIELDS.items():
            setattr(self, name, getattr(self, name) + int(row.get(column) or 0))
        self.steps += 1

    def add_eval(self, record: EvalRecord) -> None:
        self.eval_tokens += record.tokens

    def add_probe(self, probe: "Ledger") -> None:
        """The transfer probe's compute: its bursts as training, its evaluations as eval."""
        for name in STEP_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(probe, name))
        self.eval_tokens += probe.eval_tokens
        self.probe_flops += probe.training_flops

    @property
    def training_flops(self) -> float:
        return training_flops(
            self.params,
            self.sft_tokens,
            self.rl_tokens,
            self.prefill_tokens,
            self.generated_tokens,
            self.reference_tokens,
        )

    @property
    def eval_flops(self) -> float:
        return float(self.params) * FORWARD_FLOPS_PER_TOKEN * self.eval_tokens

    def totals(self) -> dict[str, Any]:
        """The figures written to run.json's `compute`."""
        return {
            "params": self.params,
            **{name: getattr(self, name) for name in STEP_FIELDS},
            "eval_tokens": self.eval_tokens,
            "training_flops": self.training_flops,
            "probe_flops": self.probe_flops,
            "eval_flops": self.eval_flops,
            "rule": "training = 6N(sft + rl tokens) + 2N(prefill + generated + reference); eval = 2N eval tokens",
        }

    @classmethod
    def from_rows(cls, params: int, steps: list[dict], evals: list[dict], probe: dict | None = None) -> "Ledger":
        """The ledger of a run from its table rows (and the probe's totals from run.json)."""
        ledger = cls(params)
        for row in steps:
            ledger.add_step_row(row)
        ledger.eval_tokens = sum(int(row.get(EVAL_TOKENS) or 0) for row in evals)
        if probe:
            ledger.add_probe(cls(params, **{k: probe[k] for k in (*STEP_FIELDS, "eval_tokens")}))
        return ledger


@dataclass(frozen=True)
class TaskLengths:
    """A task's mean prompt and demonstration tokens (as the model's formatter makes them)."""

    prompt: float
    completion: float


def plan_cost(
    totals: dict[str, tuple[float, float]],
    lengths: dict[str, TaskLengths],
    params: int,
    group_size: int,
    max_new_tokens: int,
    reference: bool = False,
) -> dict[str, Any]:
    """Estimated tokens and training FLOPs of a plan's per-task totals, task -> (demonstrations, RL prompts)
    (module docstring): `expected` with responses of demonstration length (capped at max_new_tokens),
    `upper` with max_new_tokens. `reference`: the KL penalty is on (grpo.kl_coef > 0), the reference model
    forwards every trained rollout token."""
    sft = prefill = expected = rollouts = 0.0
    for task, (rows, prompts) in totals.items():
        sft += rows * (lengths[task].prompt + lengths[task].completion)
        prefill += prompts * group_size * lengths[task].prompt
        expected += prompts * group_size * min(lengths[task].completion, max_new_tokens)
        rollouts += prompts * group_size
    upper = float(rollouts * max_new_tokens)

    def cost(generated: float) -> dict[str, float]:
        rl = prefill + generated
        return {
            "sft_tokens": sft,
            "rl_tokens": rl,
            "prefill_tokens": prefill,
            "generated_tokens": generated,
            "reference_tokens": rl if reference else 0.0,
            "training_flops": training_flops(params, sft, rl, prefill, generated, rl if reference else 0.0),
        }

    return {"params": params, "expected": cost(expected), "upper": cost(upper)}
