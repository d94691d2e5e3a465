"""A process's own figures for ``--metrics-listen``, and a worker's reports to its supervisor.

:func:`site_gauges` reads what is open or waiting in a site now; with ``--workers``, a
:class:`WorkerReporter` in each worker sends its counts and gauges to the supervisor as a
``metrics`` line on the control pipe (:mod:`krait._worker_process`). Nothing here imports
prometheus-client, which takes a tenth of a second to import: a worker does not need it,
only the process that serves the endpoint (:mod:`krait._metrics`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, cast

from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import LoopingCall

from krait._metrics_tally import RequestTally

__all__ = ["SITE_GAUGES", "WorkerReporter", "drained", "process_figures", "site_gauges"]

SITE_GAUGES = (
    "open_connections",
    "max_connections",
    "requests_in_flight",
    "websockets_open",
    "page_pool_queue_depth",
    "page_pool_busy_threads",
    "page_pool_threads",
)
"""The gauges :func:`site_gauges` reads."""


def site_gauges(factory: Any) -> dict[str, float]:
    """The gauges of a :class:`krait._http.KraitSite`, read now (on the reactor thread)."""
    root = factory.resource
    slots = factory.connection_slots
    hub = root.ws_hub
    return {
        "open_connections": slots.open,
        "max_connections": slots.limit,
        "requests_in_flight": factory.drainer.in_flight if factory.drainer else 0,
        "websockets_open": len(hub.connections) if hub is not None else 0,
        "page_pool_queue_depth": root.pool.queued,
        "page_pool_busy_threads": root.pool.busy,
        "page_pool_threads": root.pool.size,
    }


def process_figures() -> tuple[dict[str, float], dict[str, float]]:
    """This process's resident memory (a gauge, where ``/proc`` tells it) and CPU seconds
    (a counter), as a worker reports them."""
    times = os.times()
    counters = {"worker_cpu_seconds": times.user + times.system}
    gauges = {}
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
        gauges["worker_resident_memory_bytes"] = float(pages * os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, IndexError):
        pass  # not Linux: no resident memory figure
    return gauges, counters


def drained(drainer: Any) -> Deferred[None]:
    """A Deferred that fires once ``drainer``'s drain is over (at once when none began)."""
    return cast(Deferred[None], drainer.when_drained()) if drainer.draining else succeed(None)


class WorkerReporter(Service):
    """Sends a worker's snapshot to the supervisor every ``interval`` seconds, and once
    more when the worker drained, so that the supervisor's totals miss nothing it served.

    Args:
        reactor: runs the timer.
        factory: the worker's :class:`krait._http.KraitSite`, whose ``metrics`` it reports.
        send: writes one snapshot (a line of JSON) to the supervisor.
        settled: gives a Deferred that fires once the worker drained.
        interval: seconds between two reports.
    """

    def __init__(
        self,
        reactor: Any,
        factory: Any,
        send: Callable[[str], object],
        settled: Callable[[], Deferred[None]],
        interval: float = 1.0,
    ) -> None:
        self.factory = factory
        self.send = send
        self.settled = settled
        self.interval = interval
        self._timer = LoopingCall(self.report)
        self._timer.clock = reactor

    def report(self) -> None:
        """Send the snapshot now."""
        tally: RequestTally = self.factory.metrics
        gauges, counters = process_figures()
        gauges.update(site_gauges(self.factory))
        self.send(tally.snapshot(gauges, counters).to_json())

    def startService(self) -> None:
        cast(Any, super()).startService()
        self._timer.start(self.interval, now=False)

    def stopService(self) -> Deferred[None]:
        cast(Any, super()).stopService()
        if self._timer.running:
            self._timer.stop()
        waiting = self.settled()
        waiting.addCallback(lambda _: self.report())
        return waiting
