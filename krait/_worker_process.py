"""A worker process's side of ``--workers``: inherited sockets and the control pipe.

A worker is ``python -m krait`` with the supervisor's command line plus ``--worker-fds``
(the listening sockets it inherited) and ``--worker-control-fd`` (a pipe to the
supervisor). It loads the site and runs ``init.py`` like a single process, serves on the
inherited sockets, and tells the supervisor, one line at a time:

- ``ready`` once its reactor runs and it accepts connections (a reload retires an old
  worker only then);
- ``beat`` every :data:`BEAT_INTERVAL` seconds, so that the supervisor can replace a worker
  whose reactor is stuck;
- ``retire <reason>`` when it should be replaced: it served ``--max-requests`` (plus its
  jitter), or a page kept running ``--page-kill-timeout`` seconds after its 504 (a thread
  stuck in C cannot be stopped from Python; a fresh process is the only cure). The
  supervisor starts a replacement, and once that one is ready sends this worker SIGTERM,
  which drains it as in a single process;
- ``metrics <JSON>`` with ``--metrics-listen``: its counts every second and once drained
  (:class:`krait._metrics_report.WorkerReporter`), which the supervisor adds up and serves.

If the supervisor is gone (the pipe is broken), the worker shuts down gracefully by itself.
"""

from __future__ import annotations

import os
from functools import partial
from typing import Any, cast

from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import MultiService, Service
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from krait._listeners import inherited_endpoints
from krait._metrics_report import WorkerReporter, drained
from krait._restart_policy import request_limit

log = Logger(namespace="krait")

BEAT_INTERVAL = 2.0
"""Seconds between a worker's heartbeats."""


def parse_fds(text: str) -> list[int]:
    """``--worker-fds 3,4``: the inherited listening sockets, in listener order."""
    return [int(part) for part in text.split(",") if part.strip()]


def serve_inherited(
    options: Any, site_config: Any, factory: Any, reactor: Any, service: MultiService
) -> MultiService:
    """Add to ``service`` a listening service per inherited socket and the control pipe.

    Returns:
        ``service``, for ``build_service`` to return.

    Raises:
        SiteConfigError: the sockets do not match the listeners, or TLS cannot start.
    """
    fds = parse_fds(options["worker-fds"])
    for endpoint in inherited_endpoints(reactor, options, site_config, fds):
        StreamServerEndpointService(endpoint, factory).setServiceParent(service)
    control = WorkerControl(
        reactor,
        options["worker-control-fd"],
        request_limit(options["max-requests"], options["max-requests-jitter"]),
    )
    factory.drainer.request_listeners.append(control.request_started)
    kill_after = options["page-kill-timeout"]
    # A site serving its start-up error (--reload) runs no pages: it has no guard.
    guard = getattr(factory.resource, "guard", None)
    if kill_after > 0 and guard is not None:
        guard.watch_stuck_pages(kill_after, control.page_stuck)
    cast(Any, control).setServiceParent(service)
    if factory.metrics is not None:  # --metrics-listen: the supervisor serves the sum
        settled = partial(drained, factory.drainer)
        reporter = WorkerReporter(reactor, factory, control.report_metrics, settled)
        cast(Any, reporter).setServiceParent(service)
    return service


class WorkerControl(Service):
    """Writes ``ready``, ``beat`` and ``retire`` lines to the supervisor's pipe.

    Args:
        reactor: for the heartbeat and for shutting down when the supervisor is gone.
        fd: the write end of the control pipe (None: no supervisor, nothing is sent).
        max_requests: requests before asking to be recycled; 0 for no limit.
    """

    def __init__(self, reactor: Any, fd: int | None, max_requests: int) -> None:
        self.reactor = reactor
        self.fd = fd
        self.max_requests = max_requests
        self.served = 0
        self.retiring = False
        self._beat = LoopingCall(self._send, "beat")
        self._beat.clock = reactor

    def startService(self) -> None:
        cast(Any, super()).startService()
        self.reactor.callWhenRunning(self._start)

    def stopService(self) -> Any:
        if self._beat.running:
            self._beat.stop()
        return cast(Any, super()).stopService()

    def _start(self) -> None:
        self._send("ready")
        self._beat.start(BEAT_INTERVAL, now=False)

    def request_started(self) -> None:
        """Count a request; past the limit, ask to be replaced (once)."""
        self.served += 1
        if self.max_requests and self.served >= self.max_requests:
            self.retire(f"it served {self.served} requests (see --max-requests)")

    def page_stuck(self, what: str, seconds: float) -> None:
        """A page is still running past ``--page-kill-timeout``: ask to be replaced."""
        log.error(
            "{what} is still running {seconds}s after it started, past its 504: this worker "
            "will be replaced (see --page-kill-timeout)",
            what=what,
            seconds=seconds,
        )
        self.retire(f"{what} was stuck (see --page-kill-timeout)")

    def retire(self, reason: str) -> None:
        """Ask the supervisor for a replacement, then a SIGTERM (once)."""
        if self.retiring:
            return
        self.retiring = True
        self._send(f"retire {reason}")

    def report_metrics(self, snapshot: str) -> None:
        """Send this worker's metrics snapshot (a line of JSON) for the supervisor to add up."""
        self._send(f"metrics {snapshot}")

    def _send(self, line: str) -> None:
        if self.fd is None:
            return
        try:
            os.write(self.fd, line.encode() + b"\n")
        except OSError as error:
            log.warn(
                "the supervisor is gone ({error}): this worker shuts down", error=error.strerror
            )
            self.fd = None
            self.reactor.stop()
