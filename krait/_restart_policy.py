"""When the supervisor restarts a worker, and how many requests a worker serves.

Pure decisions from plain values, kept apart from the process shell in ``_supervisor.py``:
how long to wait before replacing a crashed worker (an exponential back-off, so that a site
that crashes at once does not spin a core restarting it), the request limit of each worker
(``--max-requests`` with gunicorn's jitter, so that workers started together do not all
restart together), and what ``--workers auto`` means.
"""

from __future__ import annotations

import random
import signal
from dataclasses import dataclass

__all__ = [
    "FIRST_DELAY",
    "MAX_DELAY",
    "STABLE_AFTER",
    "Backoff",
    "Exit",
    "request_limit",
    "worker_count",
]

FIRST_DELAY = 1.0
"""Seconds before the first replacement of a crashed worker."""

MAX_DELAY = 30.0
"""The back-off doubles up to this many seconds."""

STABLE_AFTER = 60.0
"""A worker that lived this long before it crashed resets the back-off."""


@dataclass
class Backoff:
    """Counts crashes in a row and turns them into a delay: 1 s, 2 s, 4 s, ... 30 s.

    Attributes:
        crashes: crashes since the last worker that lived :data:`STABLE_AFTER` seconds.
    """

    crashes: int = 0

    def delay_after_crash(self, lived: float) -> float:
        """Record a crash of a worker that lived ``lived`` seconds; return the delay before
        its replacement starts."""
        if lived >= STABLE_AFTER:
            self.crashes = 0
        self.crashes += 1
        return min(MAX_DELAY, FIRST_DELAY * 2.0 ** (self.crashes - 1))


@dataclass(frozen=True)
class Exit:
    """How a process ended: ``status`` from ``exit()``, or the ``signal`` that killed it."""

    status: int | None
    signal: int | None

    @property
    def clean(self) -> bool:
        return self.status == 0

    def __str__(self) -> str:
        if self.signal is not None:
            return f"killed by {signal.Signals(self.signal).name}"
        return f"exit status {self.status}"


def request_limit(max_requests: int, jitter: int, rng: random.Random | None = None) -> int:
    """The requests one worker serves before it is recycled; 0 means no limit.

    Args:
        max_requests: ``--max-requests`` (0: never recycle).
        jitter: ``--max-requests-jitter``: a random 0..jitter is added per worker.
        rng: the random source (tests pass a seeded one).
    """
    if max_requests <= 0:
        return 0
    return max_requests + (rng or random).randint(0, max(0, jitter))


def worker_count(text: str, cpu_count: int | None) -> int:
    """``--workers``: a positive number, or ``auto`` for one worker per core.

    Raises:
        ValueError: ``text`` is neither; the message names the flag.
    """
    if text.strip().lower() == "auto":
        return max(1, cpu_count or 1)
    try:
        count = int(text)
    except ValueError:
        raise ValueError(f"--workers takes a number of processes or 'auto', not {text!r}") from None
    if count <= 0:
        raise ValueError(f"--workers must be positive, not {count}")
    return count
