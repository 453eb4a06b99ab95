"""A wall-clock limit inside the sandbox, delivered as an exception the student's ``except Exception`` misses.

Works for Python code (loops, most torch calls return to Python quickly); a C call that never returns is
stopped by the outer per-submission watchdog instead.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager
from typing import Iterator


class TimeLimitExceeded(BaseException):
    """Raised in the main thread when the current limit expires (BaseException on purpose)."""


def _raise(signum: int, frame: object) -> None:
    raise TimeLimitExceeded()


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    previous = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
