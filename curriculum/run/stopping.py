"""A graceful stop: the first SIGTERM or SIGINT (Ctrl-C) asks the loop to finish its step, write a checkpoint
and the tables, and end the run as `stopped`; a second one stops at once (KeyboardInterrupt).

Handlers are installed only in the main thread (Python allows no other), for the duration of the loop, and the
previous ones are put back after.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator


class StopRequest:
    """`signal`: the name of the first signal received (SIGTERM, SIGINT), or None."""

    def __init__(self) -> None:
        self.signal: str | None = None

    def __call__(self, signum: int, frame: object) -> None:
        if self.signal is not None:  # the second signal: stop now
            raise KeyboardInterrupt
        self.signal = signal.Signals(signum).name


@contextlib.contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return
    previous = {s: signal.signal(s, request) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield request
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
