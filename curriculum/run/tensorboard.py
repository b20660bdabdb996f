"""TensorBoard logging of a run (`curriculum train --tensorboard`): every number of every step and evaluation
row, under the same names as the run's tables (`train/loss`, `sched/mu`, `eval/<task>/score`, ...), at the
row's step, into `<run>/tensorboard`. A display beside the terminal one (`Both`), so the loop does not change.
Needs the `tensorboard` extra."""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import ContextManager, Iterator

from curriculum.errors import UserError
from curriculum.records import STEP, EvalRecord, StepRecord
from curriculum.run.display import Display


class TensorBoardLog:
    """The Display protocol, writing scalars; everything else it ignores."""

    def __init__(self, folder: Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise UserError(
                "--tensorboard needs the tensorboard package: pip install 'curriculum[tensorboard]'"
            ) from None
        self.folder, self._make = folder, SummaryWriter
        self.writer = None  # made when training starts: the run folder must be empty until the run checks it

    def _scalars(self, row: dict, step: int) -> None:
        for name, value in row.items():
            if (
                name != STEP
                and isinstance(value, (int, float))
                and not isinstance(value, bool)
                and math.isfinite(value)
            ):
                self.writer.add_scalar(name, value, step)

    def status(self, text: str) -> ContextManager:
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def progress(self, total: int, done: int) -> Iterator[None]:
        # a resumed run logs again the steps after its checkpoint that a stopped or killed run had logged:
        # purge_step tells TensorBoard's readers to drop the earlier events from that step on
        self.writer = self.writer or self._make(log_dir=str(self.folder), purge_step=done or None)
        try:
            yield
        finally:
            self.writer.flush()

    def step(self, record: StepRecord) -> None:
        if self.writer is not None:
            self._scalars(record.row(), record.step)

    def eval(self, record: EvalRecord) -> None:
        if self.writer is not None:
            self._scalars(record.row(), record.step)
            self.writer.flush()

    def line(self, text: str) -> None:
        pass

    def probe(self, probe: dict) -> None:
        pass

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class Both:
    """Two displays as one: each call goes to both (the terminal view and the TensorBoard log)."""

    def __init__(self, first: Display, second: Display):
        self.first, self.second = first, second

    def status(self, text: str) -> ContextManager:
        return self.first.status(text)

    @contextlib.contextmanager
    def progress(self, total: int, done: int) -> Iterator[None]:
        with self.first.progress(total, done), self.second.progress(total, done):
            yield

    def step(self, record: StepRecord) -> None:
        self.first.step(record)
        self.second.step(record)

    def eval(self, record: EvalRecord) -> None:
        self.first.eval(record)
        self.second.eval(record)

    def line(self, text: str) -> None:
        self.first.line(text)
        self.second.line(text)

    def probe(self, probe: dict) -> None:
        self.first.probe(probe)
        self.second.probe(probe)
