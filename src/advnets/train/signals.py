"""SIGINT (Ctrl-C) and SIGTERM (a scheduler's or torchrun's stop) as a request to stop cleanly."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


class Interrupted(KeyboardInterrupt):
    """The run stopped on SIGINT or SIGTERM after writing its checkpoint; `signum` says which."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = signum


class StopRequest:
    """Set by the handlers: the signal that asked the run to stop; 0 while none has."""

    signum = 0


@contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    """While inside, SIGINT and SIGTERM ask the run to stop after the current step (it is then
    checkpointed); a second SIGINT stops at once. Outside the main thread signals are left alone."""
    request = StopRequest()

    def handler(signum, frame):
        if request.signum and signum == signal.SIGINT:
            raise KeyboardInterrupt
        request.signum = signum

    previous = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, handler)
    except ValueError:  # not the main thread
        previous.clear()
    try:
        yield request
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
