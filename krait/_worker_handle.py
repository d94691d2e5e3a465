"""A worker process as the supervisor sees it: its pid, its state, whom it replaces."""

from __future__ import annotations

import contextlib
import enum
from dataclasses import dataclass, field
from typing import Any

from twisted.internet.error import ProcessExitedAlready

__all__ = ["Worker", "WorkerState"]


class WorkerState(enum.Enum):
    """Where a worker process is in its life, as the supervisor sees it."""

    STARTING = "starting"
    SERVING = "serving"
    RETIRING = "retiring"
    STOPPING = "stopping"


@dataclass(eq=False)
class Worker:
    """One worker process.

    Attributes:
        process: Twisted's process transport (``signalProcess``).
        pid: its process id (kept: Twisted forgets it once the process ended).
        started: when it was started (the reactor's clock).
        replaces: the worker that gets SIGTERM once this one is ready, if any.
    """

    process: Any
    pid: int
    started: float
    replaces: Worker | None = None
    state: WorkerState = WorkerState.STARTING
    last_beat: float = 0.0
    kill_timer: Any = field(default=None, repr=False)
    slot: int = 0

    def signal(self, name: str) -> None:
        """Send ``TERM`` or ``KILL`` unless the process already ended."""
        with contextlib.suppress(ProcessExitedAlready, OSError):
            self.process.signalProcess(name)
