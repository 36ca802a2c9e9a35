"""Waiting on a condition, not on the clock: the one place tests pause."""

from __future__ import annotations

import time
from collections.abc import Callable

POLL = 0.01
"""Seconds between two looks at a condition another thread or process makes true."""


def until(condition: Callable[[], object], timeout: float = 20.0, what: str = "") -> bool:
    """Return True as soon as `condition()` holds; fail the test if it does not within
    `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not met within {timeout:g} s: {what or condition}")
        time.sleep(POLL)  # between two looks at the condition, not a guess at a duration
    return True
