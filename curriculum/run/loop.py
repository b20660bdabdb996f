"""The run: catalog -> tasks, scheduler, stream, model -> the loop -> the run folder.

`train()` is what `curriculum train` runs. After the setup, one loop reads in order, every step:

    decide      the scheduler's decision, from the measurements so far
    batch       the stream turns it into tokenized rows (`curriculum.run.stream`)
    step        `trainer.step.train_step`: rollouts, rewards, the mixed loss, an optimizer step
    record      the writer keeps the decision and the step record (`curriculum.run.writer`)
    measure     the record is folded into the measurements the scheduler reads next
    evaluate    every task, at step 0, every `evaluation.every` steps, at every stage end, at the end
    checkpoint  every `training.checkpoint_every` steps, at the end, at `stop_at`

The run ends after `training.steps` steps, or, with a `training.compute_budget`, at the first step whose
training FLOPs (`curriculum.compute`: the ledger counts every step, evaluation and probe) reach the budget.

A `bwt_order` schedule first runs its transfer probe (`curriculum.run.probe`) to pick the task order.
"""

from __future__ import annotations

import copy
import platform
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

import curriculum
from curriculum.catalog import Catalog
from curriculum.compute import Ledger
from curriculum.records import Decision
from curriculum.run.display import Display, Silent
from curriculum.run.kept import KeptWeights
from curriculum.run.probe import probe_transfer
from curriculum.run.resume import check_data
from curriculum.run.rundir import RunDir, write_table
from curriculum.run.setup import (
    RunError,
    check_decoding,
    check_lengths,
    data_fingerprint,
    load_tasks,
    make_scheduler,
    plan_decisions,
    truncation_notes,
)
from curriculum.run.stopping import stop_on_signals
from curriculum.run.stream import Stream, eval_sets
from curriculum.run.writer import RunWriter
from curriculum.signals.measurements import Measurements
from curriculum.signals.stages import stage_ends
from schedulers.staged import Staged
from trainer.checkpoint import checkpoint_dirs
from trainer.config import eval_max_new_tokens, step_limit
from trainer.distributed import Replicas, lost
from trainer.distributed import stop as stop_ranks
from trainer.evaluate import run_eval
from trainer.model import compute_dtype, count_parameters, enable_checkpointing, load_model
from trainer.runtime import Runtime, make_runtime
from trainer.step import make_optimizer, train_step


def train(
    catalog: Catalog,
    resolved: dict,
    base_dir: Path,
    out: Path,
    display: Display | None = None,
    resume: bool = False,
    stop_at: int | None = None,
    threads: int | None = None,
) -> RunDir:
    """Run a catalog to the end (or to `stop_at`, with a checkpoint); returns the run directory.

    `resolved` is the catalog as saved in the run (`catalog.model_dump(mode="json")`); relative paths
    are taken from `base_dir`. `resume=True` continues the run in `out` from its latest checkpoint:
    weights, optimizer, step, scheduler state, stream position, measurements, RNG states and every
    record so far come from the checkpoint, so the rest of the run is what an uninterrupted run would
    have done (`curriculum.run.resume.catalog_for_resume` checks the catalog first).

    `threads`: torch's CPU threads (default: torch's own, the cores). The float rounding of CPU kernels
    depends on it, so a resumed run takes the count its run.json recorded unless `threads` says otherwise."""
    started, display = time.time(), display or Silent()
    runtime = make_runtime(catalog.training.device, catalog.training.logit_chunk, ranks=True)
    ranks = runtime.dist
    try:
        if not ranks.main:  # under torchrun only rank 0 shows progress and writes the run folder
            from transformers.utils import logging as hf_logging

            display = Silent()
            hf_logging.disable_progress_bar()  # transformers' own bars (loading weights) too
        out = Path(ranks.gather(str(out))[0])  # rank 0's folder (a default name holds the time of each rank)
        run = RunDir(out, writes=ranks.main)
        with ranks.main_first():  # rank 0 looks first: the others must not see a folder it has just made
            fresh = not (run.root.exists() and any(run.root.iterdir()))
            if not resume and not fresh:
                raise RunError(f"run folder {run.root} is not empty; choose another --out, or --resume it")
        if resume and not checkpoint_dirs(run.checkpoints):  # stopped before its first checkpoint: nothing to keep
            display.line(f"{run.root} has no checkpoint yet (it stopped before its first): starting it again at step 0")
            ranks.barrier()
            if ranks.main:
                shutil.rmtree(run.root)
            resume = False
        previous = torch.get_num_threads()
        note = set_threads(run.read_info().get("threads") if resume else None, threads)
        if note:
            display.line(note)
        try:
            done = _train(catalog, resolved, base_dir, run, display, resume, stop_at, runtime, started)
            ranks.barrier()  # rank 0 has written the final run.json, which every rank's caller reads
            return done
        except Exception as exc:  # under torchrun: a collective that failed because another rank did says so
            clear = lost(ranks, exc)
            if clear is None:
                raise
            raise clear from None
        finally:
            torch.set_num_threads(previous)  # the process's own setting again (an experiment trains many runs)
    finally:
        stop_ranks(ranks)


def _train(
    catalog: Catalog,
    resolved: dict,
    base_dir: Path,
    run: RunDir,
    display: Display,
    resume: bool,
    stop_at: int | None,
    runtime: Runtime,
    started: float,
) -> RunDir:
    """The run itself, with torch's threads already set (`train`)."""
    with display.status("loading tasks and model"):
        tasks = load_tasks(catalog, base_dir)
        planned, _ = plan_decisions(catalog, tasks)
        scheduler = make_scheduler(catalog, tasks)
        model, fmt = load_model(catalog.model, catalog.seed, base_dir)
    runtime = runtime.with_compute(compute_dtype(catalog.model, base_dir))
    check_lengths(model, fmt, tasks, catalog)
    for note in truncation_notes(fmt, tasks, catalog.training.max_seq_len):
        display.line(note)
    if catalog.training.gradient_checkpointing:
        enable_checkpointing(model)
    params = count_parameters(model)
    model.to(runtime.device)
    check_decoding(model, fmt)  # a model the decoding loop cannot serve exactly is refused here
    t, e, seed, ranks = catalog.training, catalog.evaluation, catalog.seed, runtime.dist
    needs_reference = t.grpo.kl_coef > 0 or e.kl_samples > 0  # the KL penalty, KL to the base in evals
    reference = copy.deepcopy(model).eval().requires_grad_(False) if needs_reference else None
    if ranks.world > 1 and t.parallel == "fsdp" and (getattr(scheduler, "restores", False) or _probes(scheduler)):
        raise RunError(
            "training.parallel: fsdp does not yet run a schedule that copies the weights (sequential with switch: "
            "best, or the bwt_order probe); use training.parallel: ddp"
        )
    replicas = Replicas(model, t.parallel, ranks, fmt.pad_id)  # under torchrun: DDP or FSDP (trainer.distributed)
    stream, sets = Stream(tasks, fmt, seed), eval_sets(tasks, fmt)
    writer = RunWriter(run, [task.id for task in tasks], fmt.tokenizer, t.keep_checkpoints)
    state = {"model": model, "optimizer": make_optimizer(model, t), "step": 0, "replicas": replicas}
    fingerprint = data_fingerprint(tasks)
    kept = KeptWeights()  # `sequential` with `switch: best`: the weights RL may start from
    if resume:
        info = run.read_info()
        check_data(info, fingerprint)
        check_ranks(info, ranks.world, t.parallel, display)
        if ranks.world > 1:
            with ranks.main_first():  # rank 0 sets unusable checkpoints aside, then every rank loads the same
                if ranks.main:
                    writer.set_aside_unusable()
        measurements = writer.restore(state, scheduler, stream)
        for line in writer.skipped:
            display.line(f"warning: {line}")
        kept.load_state_dict(writer.kept)
        if measurements is None:
            raise RunError(f"{run.root}: its checkpoint was written by another version of the engine; start again")
        ledger = Ledger.from_rows(params, writer.steps, writer.evals, info.get("probe_compute"))
        run.write_catalog(resolved)  # the same catalog, or one with more steps
        display.line(f"resuming {run.root} at step {state['step']} of {t.steps}")
    else:
        measurements, ledger = Measurements(), Ledger(params)
        weights = str(next(iter(model.parameters())).dtype).removeprefix("torch.")
        info = _start(run, resolved, planned, writer.tasks, runtime, base_dir, fingerprint, weights)
    info.pop("ranks", None)  # the processes this part of the run trains on (under torchrun)
    if ranks.world > 1:
        info["ranks"] = {"world": ranks.world, "parallel": t.parallel}
    info["status"] = "running"
    info.pop("error", None)  # a resumed run that had failed
    info.pop("stopped_by", None)
    run.write_info(info)
    if _probes(scheduler):  # bwt_order: measure transfer, pick the order
        probe = probe_transfer(model, fmt, tasks, catalog, runtime, display, replicas)
        scheduler.set_order(probe["order"], probe["method"], probe)
        display.probe(probe)
        run.write_json("order.json", probe)
        info["probe_compute_steps"] = probe["probe_compute_steps"]
        info["probe_compute"] = probe["compute"]
        ledger.add_probe(Ledger.from_rows(params, [], [], probe["compute"]))
        run.write_info(info)

    eval_at = set(stage_ends((d.step, d.stage) for d in planned))  # the accuracy matrix's rows
    eval_tokens = eval_max_new_tokens(t, e)

    def evaluate(done: int) -> None:
        with replicas.full_weights():
            record = run_eval(
                model,
                fmt,
                sets,
                e,
                max_new_tokens=eval_tokens,
                runtime=runtime,
                seed=seed,
                step=done,
                reference=reference,
            )
        writer.eval(record)
        measurements.add_eval(record)
        ledger.add_eval(record)
        display.eval(record)
        if getattr(scheduler, "restores", False):
            kept.offer(model, measurements, done)

    def spent() -> bool:  # the compute budget is reached
        return t.compute_budget is not None and ledger.training_flops >= t.compute_budget

    def checkpoint() -> None:
        writer.checkpoint(state, scheduler, stream, measurements, kept.state_dict())
        run.write_info({**info, "compute": ledger.totals()})

    limit = step_limit(t)
    until = limit if stop_at is None else min(stop_at, limit)

    try:  # the steps; a run that ends in an error says so in run.json (failed, or stopped on Ctrl-C)
        with stop_on_signals() as stop, display.progress(t.steps, state["step"]):
            if state["step"] == 0:
                evaluate(0)
            while state["step"] < until and not spent():
                decision = scheduler.decide(state["step"], measurements)  # decide
                if decision.restore_from is not None:  # RL from the best SFT evaluation's weights
                    kept.restore(decision.restore_from, state, t)
                batch = stream.batch(decision)  # batch
                record = train_step(state, batch, fmt, t, runtime, seed, reference)  # step
                writer.decision(decision)  # record
                writer.step(record)
                display.step(record)
                measurements.add_step(record)  # measure
                ledger.add_step(record)
                done = state["step"]
                end = done == limit or spent()
                if end or (e.every and done % e.every == 0) or done in eval_at:
                    evaluate(done)  # evaluate
                signal = stop.signal if ranks.world == 1 else next(filter(None, ranks.gather(stop.signal)), None)
                if end or done == until or signal or (t.checkpoint_every and done % t.checkpoint_every == 0):
                    checkpoint()  # checkpoint
                if signal and not end:  # SIGTERM or Ctrl-C (on any rank): this step is done and saved, it can resume
                    info["stopped_by"] = signal
                    break
    except BaseException as exc:
        info.update(status="stopped" if isinstance(exc, KeyboardInterrupt) else "failed", steps=state["step"])
        info["error"] = None if isinstance(exc, KeyboardInterrupt) else f"{type(exc).__name__}: {exc}"[:2000]
        info["seconds"] = round(info.get("seconds", 0.0) + time.time() - started, 1)
        run.write_info(info)
        raise
    finished = state["step"] == limit or spent()
    info.update(status="finished" if finished else "stopped", steps=state["step"], compute=ledger.totals())
    info["seconds"] = round(info.get("seconds", 0.0) + time.time() - started, 1)
    run.write_info(info)
    if info.get("stopped_by"):
        launcher = f"torchrun --nproc_per_node {ranks.world} -m " if ranks.world > 1 else ""
        display.line(
            f"stopped by {info['stopped_by']} after step {state['step']}, checkpoint written; continue it exactly "
            f"with: {launcher}curriculum train --resume {run.root}"
        )
    return run


def _start(
    run: RunDir,
    resolved: dict,
    planned: list[Decision],
    tasks: list[str],
    runtime: Runtime,
    base_dir: Path,
    fingerprint: dict[str, str],
    weights_dtype: str,
) -> dict:
    """A new run folder: the resolved catalog, the plan, and run.json's facts (returned)."""
    if run.writes:
        run.root.mkdir(parents=True, exist_ok=True)
        run.write_catalog(resolved)
        write_table(run.table("plan"), [d.row(tasks) for d in planned])
    return {
        "engine": curriculum.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": str(runtime.device),
        "weights_dtype": weights_dtype,
        "compute_dtype": runtime.dtype_name,
        "threads": torch.get_num_threads(),
        "started": datetime.now(timezone.utc).isoformat(),
        "base_dir": str(base_dir),
        "data": fingerprint,
    }


def _probes(scheduler: object) -> bool:
    return isinstance(scheduler, Staged) and scheduler.needs_probe()


def check_ranks(info: dict, world: int, parallel: str, display: Display) -> None:
    """A resumed run's world size and parallel kind against the ones it started with (run.json's `ranks`):
    another world size is allowed (the schedule, the global batch and the loss normalization do not depend on
    it; float sums round differently, so the rest is not bit for bit what the run would have done), another way
    of sharding the optimizer state is refused."""
    started = info.get("ranks") or {"world": 1, "parallel": None}
    was = started["parallel"] if started["world"] > 1 else None
    now = parallel if world > 1 else None
    if "fsdp" in (was, now) and was != now:
        raise RunError(
            f"the run's checkpoints were written by {was or 'one process'} training; resume it with "
            f"{'torchrun and training.parallel=' + was if was else 'one process'} (its optimizer state is "
            f"{'sharded' if was == 'fsdp' else 'whole'})"
        )
    if started["world"] != world:
        display.line(
            f"warning: resuming on {world} process(es), the run started on {started['world']}: the schedule and "
            "the global batch are the same, float sums round differently"
        )


def set_threads(recorded: int | None, asked: int | None) -> str | None:
    """Set torch's CPU threads for a run: `asked`, else the count a resumed run recorded, else torch's default;
    the line to show when it matters."""
    if asked is not None and asked < 1:
        raise RunError(f"threads must be at least 1, got {asked}")
    chosen = asked if asked is not None else recorded
    if chosen is None:
        return None
    changed = chosen != torch.get_num_threads()
    torch.set_num_threads(chosen)
    if asked is not None and recorded is not None and asked != recorded:
        return (
            f"warning: resuming with {asked} threads, the run started with {recorded}: CPU results round "
            "differently, so the rest of the run is not exactly what an uninterrupted run would do"
        )
    if asked is None and changed:
        return f"resuming with {chosen} threads, as the run started (CPU results depend on the thread count)"
    return None


def default_out(catalog: Catalog) -> Path:
    return Path("runs") / f"{catalog.name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
