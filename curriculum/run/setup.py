"""The pieces of a run, built from a catalog: tasks, what schedulers know of them, the plan, length checks.

`curriculum plan` and `curriculum train` build these the same way, so a plan is what the run will do
(for an adaptive schedule: what it would do with no measurements).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from curriculum.catalog import Catalog
from curriculum.compute import TaskLengths, plan_cost
from curriculum.errors import UserError
from curriculum.records import Decision
from curriculum.signals.measurements import Measurements
from schedulers.base import Scheduler, TaskInfo
from schedulers.build import build_scheduler
from schedulers.plan import Segment
from schedulers.plan import totals as plan_totals
from tasks.build import DataTask, TaskBuildError, build_task
from trainer.config import eval_max_new_tokens
from trainer.model import Formatter, model_size
from trainer.rollout import completion_logprobs, generate


class RunError(UserError):
    """The run cannot start or go on; the message is for the user."""


def load_tasks(catalog: Catalog, base_dir: Path) -> list[DataTask]:
    """Build every task; a data problem becomes a RunError naming the YAML path."""
    tasks = []
    for i, spec in enumerate(catalog.tasks):
        try:
            tasks.append(build_task(spec, catalog.seed, base_dir))
        except TaskBuildError as exc:
            where = ".".join(str(p) for p in exc.path)
            raise RunError(f"tasks[{i}]{'.' + where if where else ''} ({spec.id}): {exc}") from None
    return tasks


def task_infos(tasks: list[DataTask]) -> list[TaskInfo]:
    return [TaskInfo(t.id, t.kind, t.weight, bool(t.sft), bool(t.rl), tuple(t.requires)) for t in tasks]


def make_scheduler(catalog: Catalog, tasks: list[DataTask]) -> Scheduler:
    return build_scheduler(catalog.schedule, task_infos(tasks), catalog.training.steps)


def plan_decisions(catalog: Catalog, tasks: list[DataTask]) -> tuple[list[Decision], bool]:
    """The schedule before training: a fresh scheduler asked for every step with no measurements; and
    whether the scheduler is adaptive (then the run's decisions follow its measurements instead)."""
    scheduler = make_scheduler(catalog, tasks)
    decisions = [scheduler.decide(step, Measurements(step=step)) for step in range(catalog.training.steps)]
    return decisions, scheduler.adaptive


def plan_segments(catalog: Catalog, tasks: list[DataTask]) -> tuple[list[Segment], bool]:
    """The schedule before training as segments of steps (`schedulers.plan`: no per-step split, so 1,000
    tasks x 100,000 steps plan in well under a second); and whether the scheduler is adaptive."""
    scheduler = make_scheduler(catalog, tasks)
    return scheduler.nominal(catalog.training.steps), scheduler.adaptive


def task_lengths(tasks: list[DataTask], fmt: Formatter, max_new_tokens: int) -> dict[str, TaskLengths]:
    """Each task's mean prompt tokens (its SFT and RL rows) and mean demonstration tokens (rows that have one;
    `max_new_tokens` for a task with none), as the model's formatter makes them: the plan's cost estimate."""
    out = {}
    for task in tasks:
        rows = list(dict.fromkeys([*task.sft, *task.rl]))
        demos = [r.completion for r in rows if r.completion is not None]
        prompt = sum(len(fmt.prompt_ids(r.prompt)) for r in rows) / max(len(rows), 1)
        completion = sum(len(fmt.completion_ids(d)) for d in demos) / len(demos) if demos else float(max_new_tokens)
        out[task.id] = TaskLengths(prompt, completion)
    return out


def plan_cost_of(catalog: Catalog, tasks: list[DataTask], segments: list[Segment], base_dir: Path) -> dict:
    """The estimated tokens and training FLOPs of a plan (`curriculum.compute.plan_cost` of the segments'
    per-task totals), and `truncated`: the notes of `truncation_notes`."""
    params, fmt = model_size(catalog.model, catalog.seed, base_dir)
    rollout = catalog.training.rollout
    lengths = task_lengths(tasks, fmt, rollout.max_new_tokens)
    kl = catalog.training.grpo.kl_coef > 0
    sums = plan_totals(segments)
    cost = plan_cost(sums, lengths, params, rollout.group_size, rollout.max_new_tokens, reference=kl)
    cost["truncated"] = truncation_notes(fmt, tasks, catalog.training.max_seq_len)
    return cost


DECODE_TOLERANCE = 1e-3  # nats: float32 teacher forcing against the cached decoding (1e-6 on Llama, GPT-2)


def check_decoding(model: torch.nn.Module, fmt: Formatter) -> None:
    """Refuse a model the decoding loop cannot serve exactly: greedy-decode 6 tokens for two left-padded
    prompts with the KV cache, then teacher-force the same tokens in one forward; the log-probs must agree
    within DECODE_TOLERANCE (in float32), or the RL ratio would start away from 1 and mean nothing. State-space
    models (Mamba) fail this: their cache is not a key-value cache."""
    prompts = [fmt.prompt_ids("Hello"), fmt.prompt_ids("Hi there, my friend")]
    with torch.no_grad():
        out = generate(model, prompts, max_new_tokens=6, temperature=1.0, generator=None, greedy=True, stop_ids=[],
                       pad_id=fmt.pad_id)  # fmt: skip
        was_training = model.training
        model.eval()
        forced = completion_logprobs(model, out.prompt_ids, out.prompt_mask, out.response_ids, out.response_mask, 1.0)
        model.train(was_training)
    gap = float((forced - out.logprobs).abs().max())
    if not gap <= DECODE_TOLERANCE:
        kind = getattr(getattr(model, "config", None), "model_type", type(model).__name__)
        raise RunError(
            f"the model ({kind}) cannot be served exactly by the decoding loop: its cached decoding and a full "
            f"forward disagree by {gap:.3g} nats per token (at most {DECODE_TOLERANCE:g} allowed), so RL ratios "
            "would be wrong from the first step",
            "supported: decoder-only transformers with a key-value cache (Llama, Qwen, Mistral, Gemma, Phi, GPT-2, "
            "OPT, ...); state-space and hybrid models (Mamba, Jamba) are not",
        )


def check_lengths(model: torch.nn.Module, fmt: Formatter, tasks: list[DataTask], catalog: Catalog) -> None:
    """Refuse before training if a prompt plus its longest completion cannot fit the model's context."""
    limit = getattr(model.config, "max_position_embeddings", None)
    if not limit:
        return
    rollout_tokens = catalog.training.rollout.max_new_tokens
    eval_tokens = eval_max_new_tokens(catalog.training, catalog.evaluation)
    for task in tasks:
        longest_prompt = max(len(fmt.prompt_ids(r.prompt)) for r in [*task.rl, *task.eval, *task.sft])
        budget = longest_prompt + max(rollout_tokens, eval_tokens)
        # SFT rows, and RL rows' demonstrations (a gating schedule trains them when all rollouts fail)
        demos = [r for r in [*task.sft, *task.rl] if r.completion is not None]
        longest_sft = max((longest_prompt + len(fmt.completion_ids(r.completion)) for r in demos), default=0)
        if catalog.training.max_seq_len is not None:  # cut to fit (`truncation_notes` says how many)
            longest_sft = min(longest_sft, max(catalog.training.max_seq_len, longest_prompt + 1))
        if max(budget, longest_sft) > limit:
            raise RunError(
                f"task {task.id}: prompt ({longest_prompt} tokens) + completion can reach "
                f"{max(budget, longest_sft)} tokens, over the model's context of {limit}; "
                "shorten max_new_tokens or the data"
            )


def truncation_notes(fmt: Formatter, tasks: list[DataTask], max_seq_len: int | None) -> list[str]:
    """One line per task whose SFT demonstrations `training.max_seq_len` cuts: how many, and the tokens they lose
    (`trainer.step.fit` cuts the completion's end; an RL row's demonstration that gating trains is cut the same
    way)."""
    if max_seq_len is None:
        return []
    notes = []
    for task in tasks:
        rows = [r for r in task.sft if r.completion is not None]
        lengths = [(len(fmt.prompt_ids(r.prompt)), len(fmt.completion_ids(r.completion))) for r in rows]
        cut = [p + c - max(max_seq_len, p + 1) for p, c in lengths if p + c > max_seq_len]
        if cut:
            notes.append(
                f"task {task.id}: {len(cut)} of {len(rows)} demonstrations are longer than training.max_seq_len "
                f"({max_seq_len} tokens) and are cut at their end: {sum(cut) / len(cut):.0f} tokens lost on average "
                f"(at most {max(cut)}), with their end-of-turn token"
            )
    return notes


def data_fingerprint(tasks: list[DataTask]) -> dict[str, str]:
    """A hash of every task's rows (SFT, RL, eval): a resume refuses data that changed under it."""
    out = {}
    for t in tasks:
        h = hashlib.sha256()
        for part in (t.sft, t.rl, t.eval):
            for r in part:
                h.update(json.dumps([r.prompt, r.completion, r.answer]).encode())
            h.update(b"|")
        out[t.id] = h.hexdigest()[:16]
    return out
