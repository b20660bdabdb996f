"""The graceful stop's handler: the first signal asks, the second stops at once; handlers are put back."""

import signal

import pytest

from curriculum.run.stopping import StopRequest, stop_on_signals


def test_first_signal_asks_second_stops_now():
    request = StopRequest()
    request(signal.SIGTERM, None)
    assert request.signal == "SIGTERM"
    with pytest.raises(KeyboardInterrupt):
        request(signal.SIGINT, None)


def test_handlers_are_installed_for_the_loop_only():
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with stop_on_signals() as request:
        assert signal.getsignal(signal.SIGTERM) is request and signal.getsignal(signal.SIGINT) is request
        signal.raise_signal(signal.SIGTERM)  # delivered to the handler, not the default (which would end pytest)
        assert request.signal == "SIGTERM"
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
