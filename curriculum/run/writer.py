"""The run writer: the run's records as table rows in memory, its tables and checkpoints on disk.

Every checkpoint holds, beside the weights and the optimizer (`trainer.checkpoint`), the scheduler's state,
the stream position, the measurements the schedulers read and every record so far: the checkpoint alone
is enough to resume, whatever happened to the tables after it.
"""

from __future__ import annotations

import shutil
from typing import Any

from curriculum.records import Decision, EvalRecord, StepRecord
from curriculum.run.rundir import RunDir, write_table
from curriculum.run.stream import Stream
from curriculum.signals.measurements import Measurements
from schedulers.base import Scheduler
from trainer.checkpoint import CheckpointError, checkpoint_dirs, load_checkpoint, read_checkpoint, save_checkpoint

# what a checkpoint's `extra` holds and how the run goes on from it; a resume refuses any other (4: each evaluation
# chunk samples from its own generator, so a run from format 3 would not continue as it started)
CHECKPOINT_FORMAT = 4


class RunWriter:
    def __init__(self, run: RunDir, tasks: list[str], tokenizer: Any, keep_checkpoints: int):
        self.run, self.tasks, self.tokenizer, self.keep = run, tasks, tokenizer, keep_checkpoints
        self.decisions: list[dict] = []
        self.steps: list[dict] = []
        self.evals: list[dict] = []
        self.kept: dict | None = None  # restored from a checkpoint: the weights of curriculum.run.kept
        self.skipped: list[str] = []  # checkpoints set aside by a resume, with the reason

    def decision(self, d: Decision) -> None:
        self.decisions.append(d.row(self.tasks))

    def step(self, record: StepRecord) -> None:
        self.steps.append(record.row())

    def eval(self, record: EvalRecord) -> None:
        self.evals.append(record.row())

    def checkpoint(
        self, state: dict, scheduler: Scheduler, stream: Stream, measurements: Measurements, kept: dict | None = None
    ) -> None:
        """Save the training state with everything else a resume needs, then rewrite the tables. `kept`: the
        weights a `switch: best` schedule may return to (`curriculum.run.kept`)."""
        extra = {
            "format": CHECKPOINT_FORMAT,
            "kept": kept,
            "scheduler": scheduler.state_dict(),
            "stream": stream.state_dict(),
            "measurements": measurements.state_dict(),
            "records": {"decisions": self.decisions, "steps": self.steps, "evals": self.evals},
        }
        save_checkpoint(self.run.checkpoints, state, self.tokenizer, extra, self.keep)
        self.flush()

    def restore(self, state: dict, scheduler: Scheduler, stream: Stream) -> Measurements | None:
        """Load the newest usable checkpoint into `state`, the scheduler, the stream and the records; the
        measurements as they were. None when the checkpoint was written in another format.

        A newer checkpoint that cannot be used (missing or unreadable file, non-finite weights, a `.pt` file
        holding code: `trainer.checkpoint.read_checkpoint`) is renamed `skipped-step-N` (kept for a look, out of
        the rotation) and the next older one is tried; `self.skipped` lists each with its reason."""
        candidates = checkpoint_dirs(self.run.checkpoints)
        for path in reversed(candidates):
            try:
                extra = load_checkpoint(path, state)
                break
            except CheckpointError as exc:
                self._set_aside(path, exc)
        else:
            raise CheckpointError(
                f"{self.run.root}: no usable checkpoint",
                *self.skipped,
                "start the run again in a new folder (or delete this one's checkpoints and tables)",
            )
        if extra.get("format") != CHECKPOINT_FORMAT:
            return None
        scheduler.load_state_dict(extra["scheduler"])
        stream.load_state_dict(extra["stream"])
        records = extra["records"]
        self.decisions, self.steps, self.evals = records["decisions"], records["steps"], records["evals"]
        self.flush()  # the tables may have run ahead of the checkpoint (a kill after it): back to it
        self.kept = extra.get("kept")
        return Measurements.from_state(extra["measurements"])

    def set_aside_unusable(self) -> None:
        """Rename every checkpoint newer than the newest readable one (`restore`), reading files only: under
        torchrun rank 0 does this first, then every rank restores the same checkpoint."""
        for path in reversed(checkpoint_dirs(self.run.checkpoints)):
            try:
                read_checkpoint(path)
                return
            except CheckpointError as exc:
                self._set_aside(path, exc)

    def _set_aside(self, path, exc: CheckpointError) -> None:
        aside = path.with_name(f"skipped-{path.name}")
        if self.run.writes:
            shutil.rmtree(aside, ignore_errors=True)
            path.rename(aside)
        self.skipped.append(f"{path.name} skipped (moved to {aside.name}): {exc}")

    def flush(self) -> None:
        if not self.run.writes:
            return
        write_table(self.run.table("decisions"), self.decisions)
        write_table(self.run.table("steps"), self.steps)
        write_table(self.run.table("evals"), self.evals)
