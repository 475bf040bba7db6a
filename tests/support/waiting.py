"""Waiting for something asynchronous (the emulator's threads, a live server, another process) to
HAPPEN. Never a way to conclude that something did not happen: for that, drive the cause
deterministically (an advanced clock, a barrier, an event) and look once."""
from __future__ import annotations

import time


class NotReached(AssertionError):
    pass


def wait_until(predicate, timeout: float = 10.0, what: str = "the condition", *, interval: float = 0.02,
               ignoring: tuple[type[BaseException], ...] = (), detail=None):
    """The first truthy value of `predicate()` within `timeout` seconds; NotReached naming `what`
    (and `detail()`, e.g. a process's output) otherwise. Exceptions of the `ignoring` types count
    as "not yet" (a server still starting refuses connections); any other one propagates at once
    (a predicate may assert that a process is still alive)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except ignoring:
            value = None
        if value:
            return value
        if time.monotonic() >= deadline:
            message = f"gave up after {timeout:g} s waiting for {what}"
            raise NotReached(message + (f": {detail()}" if detail is not None else ""))
        time.sleep(interval)
