"""Waiting for something asynchronous (the emulator's threads, a live server, another process) to
HAPPEN. Never a way to conclude that something did not happen: for that, drive the cause
deterministically (an advanced clock, a barrier, an event) and look once."""
from __future__ import annotations

import time


class NotReached(AssertionError):
    pass


def wait_until(predicate, timeout: float = 10.0, what: str = "the condition", *, interval: float = 0.02):
    """The first truthy value of `predicate()` within `timeout` seconds; NotReached naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise NotReached(f"gave up after {timeout:g} s waiting for {what}")
        time.sleep(interval)
