"""The run's records, typed, and every column name of its tables, spelled once.

- `Decision` (one per step, from the scheduler): what the step trains on and why.
- `StepRecord` (one per step, from `trainer.step.train_step`): losses, rollout statistics, timing.
- `EvalRecord` (one per evaluation, from `trainer.evaluate.run_eval`): held-out metrics per task.

Each record turns itself into one flat row of its Parquet table (`row()`); the names below are the
only place a column name is written. Other modules ask for a name (`eval_column("sort", "score")`),
they do not spell it. The README's table of metric names describes these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

SFTWeighting = Literal["none", "phi", "is"]  # token weights on the SFT loss (trainer.losses.sft_loss)
SFT_WEIGHTINGS: tuple[str, ...] = get_args(SFTWeighting)
TaskKind = Literal["structured", "creative"]  # one verifiable answer (RL shrinks entropy) / many (RL expands it)
TASK_KINDS: tuple[str, ...] = get_args(TaskKind)  # in this order wherever kinds are listed

# ------------------------------------------------------------------------------------ column names

STEP, STAGE = "step", "stage"
# steps.parquet
MU = "sched/mu"
LR, LOSS, SFT_LOSS, RL_LOSS = "train/lr", "train/loss", "train/sft_loss", "train/rl_loss"
GRAD_NORM, SFT_TOKENS, RL_TOKENS = "train/grad_norm", "train/sft_tokens", "train/rl_tokens"
GATED = "gate/prompts"
REWARD, RESPONSE_LEN, ZERO_VAR_FRAC = "rl/reward", "rl/response_len", "rl/zero_var_frac"
PLANNING_FRAC, DROPPED_GROUPS = "rl/planning_frac", "rl/dropped_groups"
CLIP_FRAC, APPROX_KL, KL = "rl/clip_frac", "rl/approx_kl", "rl/kl"
STEP_SECONDS, TOKENS_PER_SECOND = "perf/step_seconds", "perf/tokens_per_second"
# compute: tokens through the model, as `curriculum.compute` counts them (also EVAL_TOKENS in evals.parquet)
SFT_SEQ_TOKENS, RL_SEQ_TOKENS = "compute/sft_tokens", "compute/rl_tokens"  # forward + backward
PREFILL_TOKENS, GENERATED_TOKENS = "compute/prefill_tokens", "compute/generated_tokens"  # forward only
REFERENCE_TOKENS, EVAL_TOKENS = "compute/reference_tokens", "compute/eval_tokens"  # forward only
# decisions.parquet and plan.parquet (also sft_rows_column, rl_prompts_column)
DECISION_MU, SFT_WEIGHTING, WHY, GATE_BELOW, DROP_ZERO_VARIANCE, RESTORE_FROM = (
    "mu",
    "sft_weighting",
    "why",
    "gate_below",
    "drop_zero_variance",
    "restore_from",
)
# evals.parquet: eval/<task>/<metric> (eval_column), in this column order; each is a field of TaskEval
EvalMetric = Literal[
    "score",  # mean reward of the greedy completion of each eval prompt
    "sampled",  # mean@k reward of k samples
    "entropy",  # mean per-token entropy (nats) over the k samples
    "unique",  # share of distinct answers (as the task reads them) among a prompt's k samples
    "answer_entropy",  # entropy (nats) of the answers among a prompt's k samples: per answer, not per token
    "length",  # mean greedy completion tokens
    "distinct2",  # distinct token bigrams / bigrams over a prompt's k samples
    "kl_k3",  # k3 estimate of KL(policy || base) on the policy's samples (evaluation.kl_estimator: k3)
    "entropy_plan",  # entropy of planning tokens (tasks with planning markers)
    "entropy_exec",  # entropy of the other tokens
    "kl_base",  # KL(base || policy) per token on base samples (evaluation.kl_estimator: full)
]
EVAL_METRICS: tuple[str, ...] = get_args(EvalMetric)


def sft_rows_column(task: str) -> str:
    """Demonstrations of `task` in a step (decided in decisions.parquet, trained in steps.parquet)."""
    return f"sft/{task}/rows"


def rl_prompts_column(task: str) -> str:
    """RL prompts of `task` in a step (decided in decisions.parquet, rolled out in steps.parquet)."""
    return f"rl/{task}/prompts"


def task_mu_column(task: str) -> str:
    """The SFT weight of `task`'s rows in a decision."""
    return f"mu/{task}"


def rl_task_column(task: str, metric: Literal["reward", "abs_adv", "rollouts"]) -> str:
    """Per-task rollout statistics of a step."""
    return f"rl/{task}/{metric}"


def eval_column(task: str, metric: EvalMetric) -> str:
    """A held-out metric of `task` (one of EVAL_METRICS) in evals.parquet."""
    return f"eval/{task}/{metric}"


def eval_tasks(row: dict[str, Any]) -> list[str]:
    """The tasks an evals.parquet row scores, in column order."""
    return list(dict.fromkeys(k.split("/")[1] for k in row if k.startswith("eval/") and k.endswith("/score")))


# ---------------------------------------------------------------------------------------- decision


@dataclass(frozen=True)
class Decision:
    """What one training step trains on.

    `sft[task]` demonstrations and `rl[task]` prompts (each prompt gets G rollouts), mixed as
    `(1 - mu) * L_RL + mu * L_SFT`; `sft_weighting` picks token weights on the SFT loss; `why` is one
    line a person can read.

    The adaptive policies add three knobs, whose defaults keep the plain behaviour:

    - `task_mu[task]`: a per-task mu. That task's RL rows weigh (1 - task_mu[task]) and its SFT rows
      task_mu[task]; a task absent from it uses `mu` (see `mu_for`). `mu` is then a scalar summary
      (the mean of task_mu over the step's tasks), for logs and plots.
    - `gate_below`: None = off. Otherwise an RL prompt whose G rewards are all <= gate_below has its
      demonstration trained as SFT in the same step (HPT / ReLIFT style). When k of the step's n RL
      prompts are gated, the step's SFT part is those k demonstrations (plus any `sft` rows) and its
      weight is mu + (1 - mu) * k / n: with mu = 0 each prompt feeds exactly one of the two losses, in
      proportion to how many prompts went each way. A prompt without a demonstration stays RL.
    - `drop_zero_variance`: drop RL groups whose G rewards are all equal (their advantages are all 0:
      they only dilute the RL token mean).
    """

    step: int
    stage: str
    mu: float
    sft: dict[str, int]
    rl: dict[str, int]
    sft_weighting: SFTWeighting = "none"
    why: str = ""
    task_mu: dict[str, float] = field(default_factory=dict)
    gate_below: float | None = None
    drop_zero_variance: bool = False
    restore_from: int | None = None  # load the weights kept at this step's evaluation first (sequential, best)

    def mu_for(self, task: str) -> float:
        """The SFT weight of `task`'s rows this step (its RL rows weigh 1 - this)."""
        return self.task_mu.get(task, self.mu)

    @property
    def sft_total(self) -> int:
        """Demonstrations of the step, all tasks."""
        return sum(self.sft.values())

    @property
    def rl_total(self) -> int:
        """RL prompts of the step, all tasks."""
        return sum(self.rl.values())

    def row(self, tasks: list[str]) -> dict[str, Any]:
        """The decision as a flat row: step, stage, mu, sft_weighting, why, sft/<task>/rows,
        rl/<task>/prompts, mu/<task> (each task's SFT weight), gate_below, drop_zero_variance, restore_from."""
        row: dict[str, Any] = {
            STEP: self.step,
            STAGE: self.stage,
            DECISION_MU: self.mu,
            SFT_WEIGHTING: self.sft_weighting,
            WHY: self.why,
        }
        row.update({sft_rows_column(t): self.sft.get(t, 0) for t in tasks})
        row.update({rl_prompts_column(t): self.rl.get(t, 0) for t in tasks})
        row.update({task_mu_column(t): self.mu_for(t) for t in tasks})
        row[GATE_BELOW] = self.gate_below
        row[DROP_ZERO_VARIANCE] = self.drop_zero_variance
        row[RESTORE_FROM] = self.restore_from
        return row


# -------------------------------------------------------------------------------------------- step


@dataclass(frozen=True)
class TaskRollouts:
    """One task's rollouts in a step."""

    reward: float  # mean reward
    abs_adv: float  # mean |advantage| (the `bandit`'s learning progress)
    rollouts: int  # prompts x G


@dataclass(frozen=True)
class RolloutStats:
    """A step's rollouts, before any group leaves the RL part (gating, zero variance, mu 1)."""

    reward: float  # mean reward
    response_len: float  # mean completion tokens
    zero_var_frac: float  # share of groups whose G rewards are all equal
    tasks: dict[str, TaskRollouts]
    planning_frac: float | None = None  # share of response tokens that are planning tokens (HICRA on)
    dropped_groups: int | None = None  # zero-variance groups dropped (drop_zero_variance on)


@dataclass(frozen=True)
class RLLossStats:
    """Diagnostics computed beside the GRPO loss, token means over the RL part."""

    clip_frac: float  # share of tokens whose ratio was clipped against the advantage
    approx_kl: float  # k3 estimate of KL(old || new)
    kl: float | None = None  # k3 KL to the starting model (kl_coef > 0)


@dataclass(frozen=True)
class StepRecord:
    """One optimizer step, as `trainer.step.train_step` ran it."""

    step: int
    stage: str
    mu: float  # the step's SFT weight, with the share gating moved to SFT
    lr: float
    loss: float  # the value of L = (1 - mu) * L_RL + mu * L_SFT (per-task mu: the sum of each part's share)
    sft_loss: float | None  # L_SFT, the token mean over the step's SFT tokens; None: no SFT rows
    rl_loss: float | None  # L_RL (GRPO); None: no RL rows trained
    grad_norm: float  # before clipping
    sft_tokens: int  # tokens L_SFT is normalized over
    rl_tokens: int  # tokens L_RL is normalized over
    sft_rows: dict[str, int]  # demonstrations per task (the decision's, gated ones not included)
    rl_prompts: dict[str, int]  # RL prompts per task
    gated: int | None  # prompts gated into SFT; None: gating off
    rollouts: RolloutStats | None  # None: no RL prompts this step
    rl: RLLossStats | None  # None: no RL rows trained
    step_seconds: float
    tokens_per_second: float
    # compute (`curriculum.compute`): prompt + completion tokens of the trained rows (forward and backward),
    # rollout prompt tokens (prefill) and sampled tokens (forward), the reference's forward for the KL penalty
    sft_seq_tokens: int = 0
    rl_seq_tokens: int = 0
    prefill_tokens: int = 0
    generated_tokens: int = 0
    reference_tokens: int = 0

    def row(self) -> dict[str, Any]:
        """The step as a flat row of steps.parquet (absent parts leave their columns out)."""
        row: dict[str, Any] = {
            STEP: self.step,
            STAGE: self.stage,
            MU: self.mu,
            LR: self.lr,
            LOSS: self.loss,
            SFT_LOSS: self.sft_loss,
            RL_LOSS: self.rl_loss,
            GRAD_NORM: self.grad_norm,
            SFT_TOKENS: self.sft_tokens,
            RL_TOKENS: self.rl_tokens,
        }
        row.update({sft_rows_column(t): n for t, n in self.sft_rows.items()})
        if self.gated is not None:
            row[GATED] = self.gated
        row.update({rl_prompts_column(t): n for t, n in self.rl_prompts.items()})
        if self.rollouts is not None:
            r = self.rollouts
            row.update({REWARD: r.reward, RESPONSE_LEN: r.response_len, ZERO_VAR_FRAC: r.zero_var_frac})
            for task, t in r.tasks.items():
                row[rl_task_column(task, "reward")] = t.reward
                row[rl_task_column(task, "abs_adv")] = t.abs_adv
                row[rl_task_column(task, "rollouts")] = t.rollouts
            if r.planning_frac is not None:
                row[PLANNING_FRAC] = r.planning_frac
            if r.dropped_groups is not None:
                row[DROPPED_GROUPS] = r.dropped_groups
        if self.rl is not None:
            row.update({CLIP_FRAC: self.rl.clip_frac, APPROX_KL: self.rl.approx_kl})
            if self.rl.kl is not None:
                row[KL] = self.rl.kl
        row.update({STEP_SECONDS: self.step_seconds, TOKENS_PER_SECOND: self.tokens_per_second})
        row.update(
            {
                SFT_SEQ_TOKENS: self.sft_seq_tokens,
                RL_SEQ_TOKENS: self.rl_seq_tokens,
                PREFILL_TOKENS: self.prefill_tokens,
                GENERATED_TOKENS: self.generated_tokens,
                REFERENCE_TOKENS: self.reference_tokens,
            }
        )
        return row


# -------------------------------------------------------------------------------------------- eval


@dataclass(frozen=True)
class TaskEval:
    """One task's held-out metrics (`trainer.evaluate` says how each is measured)."""

    score: float
    sampled: float
    entropy: float
    unique: float
    length: float
    distinct2: float | None  # None: no sample had two tokens
    kl_k3: float | None = None  # None: not measured
    kl_base: float | None = None  # None: not measured
    planning: bool = False  # the task has planning markers: entropy_plan / entropy_exec were measured
    entropy_plan: float | None = None  # None (with planning): no planning token was sampled
    entropy_exec: float | None = None
    answer_entropy: float | None = None  # None: not measured


@dataclass(frozen=True)
class EvalRecord:
    """One evaluation of every task; step 0 is the starting model."""

    step: int
    tasks: dict[str, TaskEval]
    tokens: int = 0  # tokens the evaluation passed through a model (prompts, samples, teacher-forced passes)

    def row(self) -> dict[str, Any]:
        """The evaluation as a flat row of evals.parquet: step, compute/eval_tokens, eval/<task>/<metric>."""
        row: dict[str, Any] = {STEP: self.step, EVAL_TOKENS: self.tokens}
        for task, m in self.tasks.items():
            for metric in EVAL_METRICS:
                value = getattr(m, metric)
                if metric in ("kl_k3", "kl_base", "answer_entropy") and value is None:
                    continue  # not measured
                if metric in ("entropy_plan", "entropy_exec") and not m.planning:
                    continue  # the task has no planning markers
                row[eval_column(task, metric)] = value
        return row
