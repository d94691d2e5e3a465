"""The process's open-file budget: its limit, how many connections fit in it, and counting them.

Every connection holds a file descriptor, and another one while it is sent a file. Once the
process reaches its open-file limit (RLIMIT_NOFILE, often 1,024), ``accept()`` fails with
EMFILE: the listening socket's queue fills and every client is refused or left hanging, the
well-behaved ones too. So krait raises its soft limit to the hard one at start-up, and counts
its connections against ``--max-connections`` (nginx's ``worker_connections``), set well
inside the limit: a connection over it is still accepted, answered ``503`` and closed, which
needs one descriptor for a moment, never more.

Pure but for :func:`open_file_limit` and :func:`raise_open_file_limit`, which ask the system.
The slots are used on the reactor thread only.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass

__all__ = [
    "DESCRIPTORS_KEPT",
    "MAX_CONNECTIONS_CAP",
    "MAX_LINGERING_REFUSALS",
    "ConnectionSlot",
    "ConnectionSlots",
    "OpenFileLimit",
    "connections_fit",
    "default_max_connections",
    "open_file_limit",
    "raise_open_file_limit",
    "raised_soft_limit",
]

DESCRIPTORS_KEPT = 64
"""Descriptors kept out of the connection budget: listening sockets, logs, the spool file,
the reactor's own, a refused connection's moment."""

MAX_CONNECTIONS_CAP = 10_000
"""The default ``--max-connections`` never goes past this, however high the open-file limit:
one reactor thread serves them all."""

MAX_LINGERING_REFUSALS = DESCRIPTORS_KEPT // 2
"""Refused connections kept open at once for a moment, so that their clients read the 503."""

_UNLIMITED_TARGET = 65_536
"""The soft limit asked for when the hard limit is unlimited (macOS, some BSDs)."""


def default_max_connections(open_file_limit: int) -> int:
    """The connections that fit in ``open_file_limit`` descriptors: two each (the socket and a
    file being sent), after :data:`DESCRIPTORS_KEPT`; at least 1, at most
    :data:`MAX_CONNECTIONS_CAP`."""
    return max(1, min(MAX_CONNECTIONS_CAP, (open_file_limit - DESCRIPTORS_KEPT) // 2))


def connections_fit(max_connections: int, open_file_limit: int) -> bool:
    """Whether ``max_connections`` can all be sent a file within ``open_file_limit``."""
    return 2 * max_connections + DESCRIPTORS_KEPT <= open_file_limit


def raised_soft_limit(soft: int, hard: int, unlimited: int) -> int:
    """The soft open-file limit to ask for: the hard limit (or a large one if it is
    ``unlimited``), never lower than ``soft``."""
    if hard == unlimited:
        return soft if soft == unlimited else max(soft, _UNLIMITED_TARGET)
    return max(soft, hard)


@dataclass(frozen=True)
class OpenFileLimit:
    """The process's open-file limit before and after :func:`raise_open_file_limit`.

    Attributes:
        before: the soft limit the process started with.
        soft: the soft limit now, the one that counts.
        hard: the hard limit, which only root can raise.
        error: why raising failed, or ``""``.
    """

    before: int
    soft: int
    hard: int
    error: str = ""


def open_file_limit() -> int:
    """The process's soft open-file limit, the one that counts."""
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def raise_open_file_limit() -> OpenFileLimit:
    """Raise the soft RLIMIT_NOFILE to the hard limit, as far as the system allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = raised_soft_limit(soft, hard, resource.RLIM_INFINITY)
    if wanted == soft:
        return OpenFileLimit(before=soft, soft=soft, hard=hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    except (OSError, ValueError) as error:
        return OpenFileLimit(before=soft, soft=soft, hard=hard, error=str(error))
    return OpenFileLimit(before=soft, soft=wanted, hard=hard)


class ConnectionSlots:
    """Counts the open connections of a site against its limit.

    Args:
        limit: the most connections open at once.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0
        self.refused_in_a_row = 0
        """Connections refused since the last one closed (1: the limit was just reached)."""
        self.lingering = 0
        """Refused connections still open, waiting for their client to read the 503."""

    def take(self) -> ConnectionSlot | None:
        """A slot for a new connection, or None when all are taken."""
        if self.open >= self.limit:
            self.refused_in_a_row += 1
            return None
        self.open += 1
        return ConnectionSlot(self)

    def linger(self) -> bool:
        """Whether a refused connection may stay open a moment longer (then call
        :meth:`stop_lingering` once it closes), or must be closed at once."""
        if self.lingering >= MAX_LINGERING_REFUSALS:
            return False
        self.lingering += 1
        return True

    def stop_lingering(self) -> None:
        """A refused connection that was allowed to :meth:`linger` closed."""
        self.lingering -= 1

    def give_back(self) -> None:
        """One connection closed (for :meth:`ConnectionSlot.release`)."""
        self.open -= 1
        self.refused_in_a_row = 0


class ConnectionSlot:
    """One connection's place among the site's :class:`ConnectionSlots`, until it closes.

    It goes with the connection from protocol to protocol (HTTP/1.1, HTTP/2, WebSocket);
    whichever holds it last releases it when the connection is lost.
    """

    def __init__(self, slots: ConnectionSlots) -> None:
        self._slots: ConnectionSlots | None = slots

    def release(self) -> None:
        """Give the slot back (once; later calls do nothing)."""
        slots, self._slots = self._slots, None
        if slots is not None:
            slots.give_back()
