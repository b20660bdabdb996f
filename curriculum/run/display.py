"""What the run shows while it works, as a protocol: the terminal view (`curriculum.views.train`) is one
implementation, `Silent` (tests, benchmarks) another. The run hands over records and lines; it never
formats or prints them itself."""

from __future__ import annotations

import contextlib
from typing import ContextManager, Protocol

from curriculum.records import EvalRecord, StepRecord


class Display(Protocol):
    def status(self, text: str) -> ContextManager: ...  # a spinner while something slow runs

    def progress(self, total: int, done: int) -> ContextManager: ...  # around the training steps

    def step(self, record: StepRecord) -> None: ...

    def eval(self, record: EvalRecord) -> None: ...

    def line(self, text: str) -> None: ...  # one line of news (resuming, a probe burst's gains)

    def probe(self, probe: dict) -> None: ...  # the bwt_order probe's result (order.json)


class Silent:
    """Shows nothing."""

    def status(self, text: str) -> ContextManager:
        return contextlib.nullcontext()

    def progress(self, total: int, done: int) -> ContextManager:
        return contextlib.nullcontext()

    def step(self, record: StepRecord) -> None:
        pass

    def eval(self, record: EvalRecord) -> None:
        pass

    def line(self, text: str) -> None:
        pass

    def probe(self, probe: dict) -> None:
        pass
