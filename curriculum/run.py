"""Orchestration: catalog -> tasks, scheduler, stream, model -> the training loop -> the run directory.

`train()` is what `curriculum train` runs. The pieces meet only here: the loop asks `next_batch(step)`,
which asks the scheduler for a decision (from measurements built out of the run's own records), logs
it, and has the stream turn it into a batch. `RunWriter` is the loop's `RunLog`: it keeps the records,
drives the progress bar, and writes checkpoints and tables.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import platform
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

import curriculum
from curriculum.plan import stages
from curriculum.probe import probe_transfer, render_probe
from curriculum.rundir import RunDir, decision_row, eval_row, write_table
from curriculum.schema import Catalog
from curriculum.signals import add_eval_row, add_step_row, measurements
from curriculum.stream import Stream, eval_sets
from schedulers.base import Decision, Measurements, Scheduler, TaskInfo
from schedulers.registry import build_scheduler
from tasks.build import DataTask, TaskBuildError, build_task
from trainer.checkpoint import checkpoint_dirs, load_checkpoint, save_checkpoint
from trainer.loop import FitConfig, fit, make_optimizer
from trainer.model import Formatter, load_model
from trainer.runtime import make_runtime


class RunError(Exception):
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


def plan_decisions(catalog: Catalog, infos: list[TaskInfo]) -> list[Decision]:
    """The schedule before training: a fresh scheduler asked for every step with no measurements."""
    scheduler = build_scheduler(catalog.schedule, infos, catalog.training.steps)
    return [scheduler.decide(step, Measurements(step=step)) for step in range(catalog.training.steps)]


def stage_ends(planned: list[Decision]) -> tuple[int, ...]:
    """Step counts at which a planned stage ends and the next begins (the run evaluates there, so the
    accuracy matrix has a row per stage)."""
    return tuple(itertools.accumulate(len(run) for _, run in stages(planned)))[:-1]


def fit_config(catalog: Catalog) -> FitConfig:
    t, e = catalog.training, catalog.evaluation
    return FitConfig(
        steps=t.steps,
        seed=catalog.seed,
        lr=t.lr,
        weight_decay=t.weight_decay,
        warmup_steps=t.warmup_steps,
        lr_decay=t.lr_decay,
        grad_clip=t.grad_clip,
        micro_batch=t.micro_batch,
        group_size=t.rollout.group_size,
        max_new_tokens=t.rollout.max_new_tokens,
        temperature=t.rollout.temperature,
        clip_low=t.grpo.clip_low,
        clip_high=t.grpo.clip_high,
        kl_coef=t.grpo.kl_coef,
        adv_eps=t.grpo.adv_eps,
        eval_every=e.every,
        eval_max_new_tokens=e.max_new_tokens or t.rollout.max_new_tokens,
        eval_temperature=e.temperature,
        eval_batch_size=e.batch_size,
        eval_samples=e.samples,
        eval_kl_samples=e.kl_samples,
        eval_kl_estimator=e.kl_estimator,
        hicra_alpha=t.grpo.hicra_alpha,
        checkpoint_every=t.checkpoint_every,
    )


def check_lengths(model: torch.nn.Module, fmt: Formatter, tasks: list[DataTask], cfg: FitConfig) -> None:
    """Refuse before training if a prompt plus its longest completion cannot fit the model's context."""
    limit = getattr(model.config, "max_position_embeddings", None)
    if not limit:
        return
    for task in tasks:
        longest_prompt = max(len(fmt.prompt_ids(r.prompt)) for r in [*task.rl, *task.eval, *task.sft])
        budget = longest_prompt + max(cfg.max_new_tokens, cfg.eval_max_new_tokens)
        # SFT rows, and RL rows' demonstrations (a gating schedule trains them when all rollouts fail)
        demos = [r for r in [*task.sft, *task.rl] if r.completion is not None]
        longest_sft = max((longest_prompt + len(fmt.completion_ids(r.completion)) for r in demos), default=0)
        if max(budget, longest_sft) > limit:
            raise RunError(
                f"task {task.id}: prompt ({longest_prompt} tokens) + completion can reach "
                f"{max(budget, longest_sft)} tokens, over the model's context of {limit}; "
                "shorten max_new_tokens or the data"
            )


@dataclass
class RunWriter:
    """The loop's RunLog: records in memory, tables and checkpoints on disk, a live progress bar."""

    run: RunDir
    task_ids: list[str]
    tokenizer: Any
    scheduler: Scheduler
    stream: Stream
    keep_checkpoints: int
    console: Console
    progress: Progress | None = None
    progress_task: Any = None

    def __post_init__(self) -> None:
        self.decisions: list[dict] = []
        self.steps: list[dict] = []
        self.evals: list[dict] = []
        self.measurements = Measurements()

    def decision(self, d: Decision) -> None:
        self.decisions.append(decision_row(d, self.task_ids))

    def step(self, record: dict) -> None:
        self.steps.append(record)
        add_step_row(self.measurements, record)
        if self.progress is not None:
            loss, reward = record["train/loss"], record.get("rl/reward")
            reward_text = "-" if reward is None else f"{reward:.2f}"
            self.progress.update(
                self.progress_task,
                advance=1,
                stats=f"loss {loss:.3f}  reward {reward_text}  mu {record['sched/mu']:.2f}",
            )

    def eval(self, step: int, results: dict[str, dict[str, float]]) -> None:
        row = eval_row(step, results)
        self.evals.append(row)
        add_eval_row(self.measurements, row)
        scores = "  ".join(f"{t} {m['score']:.2f}/{m['sampled']:.2f}" for t, m in results.items())
        out = self.progress.console if self.progress else self.console
        out.print(f"[dim]eval @ {step} (greedy/sampled):[/] {scores}")

    def checkpoint(self, state: dict) -> None:
        """Save the training state with the scheduler, the stream and every record so far: the checkpoint
        alone is enough to resume, whatever happened to the tables after it."""
        extra = {
            "scheduler": self.scheduler.state_dict(),
            "stream": self.stream.state_dict(),
            "records": {"decisions": self.decisions, "steps": self.steps, "evals": self.evals},
        }
        save_checkpoint(self.run.checkpoints, state, self.tokenizer, extra, self.keep_checkpoints)
        self.flush()

    def restore(self, state: dict) -> None:
        """Load the latest checkpoint into `state`, the scheduler, the stream and the records."""
        found = checkpoint_dirs(self.run.checkpoints)
        if not found:
            raise RunError(f"{self.run.root} has no checkpoint to resume from")
        extra = load_checkpoint(found[-1], state)
        self.scheduler.load_state_dict(extra["scheduler"])
        self.stream.load_state_dict(extra["stream"])
        records = extra["records"]
        self.decisions, self.steps, self.evals = records["decisions"], records["steps"], records["evals"]
        self.measurements = measurements(self.steps, self.evals)
        self.flush()  # the tables may have run ahead of the checkpoint (a kill after it): back to it

    def flush(self) -> None:
        write_table(self.run.table("decisions"), self.decisions)
        write_table(self.run.table("steps"), self.steps)
        write_table(self.run.table("evals"), self.evals)


def default_out(catalog: Catalog) -> Path:
    return Path("runs") / f"{catalog.name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


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


def train(
    catalog: Catalog,
    resolved: dict,
    base_dir: Path,
    out: Path,
    console: Console,
    progress: bool = True,
    resume: bool = False,
    stop_at: int | None = None,
) -> RunDir:
    """Run a catalog to the end (or to `stop_at`, with a checkpoint); returns the run directory.

    `resume=True` continues the run in `out` from its latest checkpoint: weights, optimizer, step,
    scheduler state, stream position, RNG states and every record so far come from the checkpoint, so
    the rest of the run is what an uninterrupted run would have done (`curriculum.resume` checks that
    the catalog and the data are unchanged first)."""
    started = time.time()
    runtime = make_runtime(catalog.training.device)
    run = RunDir(out)
    if not resume and run.root.exists() and any(run.root.iterdir()):
        raise RunError(f"run folder {run.root} is not empty; choose another --out, or --resume it")
    with console.status("loading tasks and model"):
        tasks = load_tasks(catalog, base_dir)
        infos = task_infos(tasks)
        planned = plan_decisions(catalog, infos)
        scheduler = build_scheduler(catalog.schedule, infos, catalog.training.steps)
        m = catalog.model
        model, fmt = load_model(**m.model_dump(), seed=catalog.seed, base_dir=base_dir)
    cfg = replace(fit_config(catalog), eval_at=stage_ends(planned))
    if cfg.hicra_alpha is not None and not any(t.planning for t in tasks):
        raise RunError("training.grpo.hicra_alpha is set but no task declares `planning` markers")
    check_lengths(model, fmt, tasks, cfg)
    model.to(runtime.device)
    needs_reference = cfg.kl_coef > 0 or cfg.eval_kl_samples > 0
    reference = copy.deepcopy(model).eval().requires_grad_(False) if needs_reference else None
    stream = Stream(tasks, fmt, catalog.seed)
    task_ids = [t.id for t in tasks]
    state = {"model": model, "optimizer": make_optimizer(model, cfg), "step": 0}
    log = RunWriter(run, task_ids, fmt.tokenizer, scheduler, stream, catalog.training.keep_checkpoints, console)
    fingerprint = data_fingerprint(tasks)

    if resume:
        if not checkpoint_dirs(run.checkpoints):
            raise RunError(f"{run.root} has no checkpoint to resume from (stopped before its first one: start again)")
        info = run.read_info()
        if info.get("data") != fingerprint:
            changed = sorted(t for t in fingerprint if info.get("data", {}).get(t) != fingerprint[t])
            raise RunError(
                f"the data of task(s) {', '.join(changed)} differs from what the run started with "
                "(a data file edited or moved?); resuming would train on other rows: refused"
            )
        log.restore(state)
        run.write_catalog(resolved)  # the same catalog, or one with more steps
        console.print(f"resuming {run.root} at step {state['step']} of {cfg.steps}")
    else:
        run.root.mkdir(parents=True, exist_ok=True)
        run.write_catalog(resolved)
        write_table(run.table("plan"), [decision_row(d, task_ids) for d in planned])
        info = {
            "engine": curriculum.__version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "device": str(runtime.device),
            "dtype": runtime.dtype_name,
            "threads": torch.get_num_threads(),
            "started": datetime.now(timezone.utc).isoformat(),
            "base_dir": str(base_dir),
            "data": fingerprint,
        }
    info["status"] = "running"
    run.write_info(info)
    if getattr(scheduler, "needs_probe", lambda: False)():  # bwt_order: measure transfer, pick the order
        probe = probe_transfer(model, fmt, tasks, infos, catalog.schedule, cfg, runtime, console)
        scheduler.set_order(probe["order"], probe["method"], probe)
        render_probe(probe, console)
        run.write_json("order.json", probe)
        info["probe_compute_steps"] = probe["probe_compute_steps"]
        run.write_info(info)

    def next_batch(step: int):
        decision = scheduler.decide(step, log.measurements)
        log.decision(decision)
        return stream.batch(decision)

    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[stats]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=console, disable=not progress) as bar:
        log.progress = bar
        log.progress_task = bar.add_task("train", total=cfg.steps, completed=state["step"], stats="")
        fit(state, fmt, next_batch, eval_sets(tasks, fmt), cfg, runtime, log, reference, stop_at=stop_at)
    done = state["step"] == cfg.steps
    info.update(status="finished" if done else "stopped", steps=state["step"])
    info["seconds"] = round(info.get("seconds", 0.0) + time.time() - started, 1)
    run.write_info(info)
    if done:
        print_summary(log.evals, {t.id: t.kind for t in tasks}, console)
    return run


def print_summary(evals: list[dict], kinds: dict[str, str], console: Console) -> None:
    """Held-out score and entropy of every task, first evaluation -> last, and the mean per task kind."""
    if len(evals) < 2:
        return
    first, last = evals[0], evals[-1]
    table = Table(title=f"held-out evaluation: step {first['step']} -> {last['step']}", title_justify="left")
    for col in ("task", "kind", "score (greedy)", "sampled (mean@k)", "entropy"):
        table.add_column(col, justify="left" if col in ("task", "kind") else "right", no_wrap=True)

    def change(key: str) -> str:
        return f"{first[key]:.3f} -> {last[key]:.3f}"

    for task, kind in kinds.items():
        table.add_row(
            task, kind, change(f"eval/{task}/score"), change(f"eval/{task}/sampled"), change(f"eval/{task}/entropy")
        )
    table.add_section()
    for kind in ("structured", "creative"):
        ids = [t for t, k in kinds.items() if k == kind]
        if ids:
            metrics = ("score", "sampled")
            means = [[sum(row[f"eval/{t}/{m}"] for t in ids) / len(ids) for row in (first, last)] for m in metrics]
            table.add_row(f"mean ({len(ids)})", kind, *(f"{a:.3f} -> {b:.3f}" for a, b in means), "")
    console.print(table)


# Keys a resume may change: they alter neither the data nor any decision already taken.
RESUMABLE_CHANGES = ("training.steps", "training.checkpoint_every", "training.keep_checkpoints")


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: data}


def resume_changes(saved: dict, new: dict) -> list[str]:
    """What differs between the catalog a run started with and the one it would resume with, said for a
    person: tasks added, removed or changed by id; any other key by its path. Empty = the same run."""
    problems = []
    old_tasks = {t["id"]: t for t in saved.get("tasks", [])}
    new_tasks = {t["id"]: t for t in new.get("tasks", [])}
    for tid in new_tasks.keys() - old_tasks.keys():
        problems.append(f"task {tid} added")
    for tid in old_tasks.keys() - new_tasks.keys():
        problems.append(f"task {tid} removed")
    for tid in old_tasks.keys() & new_tasks.keys():
        a, b = _flatten(old_tasks[tid]), _flatten(new_tasks[tid])
        for key in sorted(a.keys() | b.keys()):
            if a.get(key) != b.get(key):
                what = "reweighted" if key == "weight" else f"{key} changed"
                problems.append(f"task {tid} {what}: {a.get(key)!r} -> {b.get(key)!r}")
    if list(old_tasks) != list(new_tasks) and old_tasks.keys() == new_tasks.keys():
        problems.append(f"task order changed: {list(old_tasks)} -> {list(new_tasks)}")
    a = _flatten({k: v for k, v in saved.items() if k != "tasks"})
    b = _flatten({k: v for k, v in new.items() if k != "tasks"})
    staged = (saved.get("schedule") or {}).get("order") is not None
    for key in sorted(a.keys() | b.keys()):
        if a.get(key) != b.get(key) and (key not in RESUMABLE_CHANGES or (staged and key == "training.steps")):
            why = " (task stages split training.steps: their lengths would change)" if key == "training.steps" else ""
            problems.append(f"{key} changed: {a.get(key)!r} -> {b.get(key)!r}{why}")
    return sorted(problems)
