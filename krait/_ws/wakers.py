"""Where controller threads and the reactor wake each other, in coalesced batches.

Waking the reactor from a thread costs a system call and a loop iteration, and waking a
thread while the reactor still holds the GIL makes it block again at once. So a
:class:`ReactorWaker` runs the drains that threads ask for in batches, and an
:class:`InboxNotifier` wakes the threads that got messages during one reactor pass only
after that pass. One of each belongs to a :class:`krait._ws.hub.WebsocketsHub`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from krait._workers import call_in_reactor
from krait._ws.mailbox import Mailbox


class ReactorWaker:
    """Runs, on the reactor, the drains that controller threads ask for.

    While one batch of drains runs, threads that ask again only join the next batch, which
    runs straight after.

    Args:
        reactor: the reactor to wake.
    """

    BATCHES_PER_WAKE_UP = 8

    def __init__(self, reactor: Any) -> None:
        self._reactor = reactor
        self._lock = threading.Lock()
        self._pending: list[Callable[[], None]] = []
        self._scheduled = False

    def request(self, drain: Callable[[], None]) -> None:
        """Have ``drain`` called on the reactor soon (from any thread)."""
        with self._lock:
            self._pending.append(drain)
            if self._scheduled:
                return
            self._scheduled = True
        call_in_reactor(self._reactor, self._run)

    def _run(self) -> None:
        for _ in range(self.BATCHES_PER_WAKE_UP):
            with self._lock:
                pending, self._pending = self._pending, []
                if not pending:
                    self._scheduled = False
                    return
            for drain in pending:
                drain()
        # Still busy: let the reactor serve the network before the next batches.
        call_in_reactor(self._reactor, self._run)


class InboxNotifier:
    """Wakes the controller threads that got messages during one reactor pass, after it.

    Args:
        reactor: the reactor whose passes are batched.
    """

    def __init__(self, reactor: Any) -> None:
        self._reactor = reactor
        self._pending: dict[int, Mailbox] = {}
        self._scheduled = False

    def deliver(self, mailbox: Mailbox, handle: Callable[[Any], None], message: Any) -> None:
        """Call ``handle(message)`` under the mailbox's lock now; wake its readers after
        this pass (on the reactor)."""
        with mailbox.lock:
            handle(message)
        self._pending[id(mailbox)] = mailbox
        if not self._scheduled:
            self._scheduled = True
            self._reactor.callLater(0, self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        pending = list(self._pending.values())
        self._pending.clear()
        for mailbox in pending:
            mailbox.wake_readers()
