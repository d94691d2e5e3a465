"""``--metrics-listen``: the option, and what it adds to a single process, a worker or a supervisor.

- A single process counts its requests (``KraitSite.metrics``) and serves ``/metrics``
  and ``/health`` itself; ``/health`` turns 503 when the drain begins.
- With ``--workers`` (or ``--reload``, whose one worker is replaced on a change), the
  supervisor binds the metrics endpoint (workers get the same command line, but never bind
  it). Each worker counts its own requests and sends its snapshot to the supervisor on its
  control pipe every second, and once more when it has drained; the supervisor serves the
  sum (:class:`krait._metrics_tally.WorkerTotals`). ``/health`` is 200 while a worker
  serves, 503 before the first is ready and once the supervisor stops.

Without the option nothing is counted and prometheus-client is not even imported.
"""

from __future__ import annotations

from typing import Any, TypeVar

from twisted.application.service import MultiService

from krait._metrics_tally import RequestTally

__all__ = ["METRICS_OPTIONS", "add_metrics"]

METRICS_OPTIONS: list[list[Any]] = [
    [
        "metrics-listen",
        None,
        None,
        "A Twisted endpoint of its own for /metrics (Prometheus) and /health, never the site's, "
        "e.g. tcp:9100:interface=127.0.0.1 (default: none, nothing is counted).",
    ],
]
"""``optParameters`` rows, in Twisted's ``usage.Options`` form."""

S = TypeVar("S", bound=MultiService)


def add_metrics(options: Any, reactor: Any, service: S, factory: Any = None) -> S:
    """With ``--metrics-listen``, count requests and serve the endpoint; else do nothing.

    Args:
        options: the parsed options.
        reactor: the reactor.
        service: the process's service: the endpoint's service is added to it.
        factory: the site's ``KraitSite``; None in a supervisor.

    Returns:
        ``service``.

    Raises:
        SiteConfigError: the endpoint string is not valid.
    """
    description = options["metrics-listen"]
    if description is None:
        return service
    if factory is not None:
        factory.metrics = RequestTally()
        if options["worker-fds"] is not None:
            return service  # a worker only counts: krait._worker_process reports the counts
    # Imported here: prometheus-client takes a tenth of a second to import, which only the
    # process that serves the endpoint should pay.
    from krait._metrics import serve_metrics

    serve_metrics(description, reactor, service, factory)
    return service
