"""The ``--metrics-listen`` endpoint: ``/metrics`` for Prometheus and ``/health`` for balancers.

It is a twisted.web Site of its own on its own port, never the site's: what the server
counts is not for its visitors. ``/metrics`` turns a :class:`krait._metrics_tally.Snapshot`
(one process's, or the sum the supervisor keeps of its workers') into Prometheus's text
format with prometheus-client, beside prometheus-client's process, platform and garbage
collector metrics. ``/health`` answers 200 while the server serves and 503 once it drains,
so that a load balancer stops sending before the port closes; the endpoint itself stays
open until the drain is over (:class:`MetricsService`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any, cast

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import MultiService
from twisted.internet.defer import Deferred, succeed
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IListeningPort, IStreamServerEndpoint
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.web import server
from twisted.web.resource import Resource
from zope.interface import implementer

from krait._answers import write_error
from krait._errors import SiteConfigError
from krait._listening import listening_at
from krait._metrics_report import SITE_GAUGES, drained, site_gauges
from krait._metrics_tally import RequestTally, Snapshot, WorkerTotals
from krait._ready import describe
from krait._supervisor import Supervisor
from krait._twisted_compat import raise_bind_errors_synchronously
from krait._worker_handle import WorkerState

log = Logger(namespace="krait")

Health = Callable[[], tuple[int, dict[str, Any]]]
"""What ``/health`` says now: the status (200 or 503) and the facts of its JSON body."""

GAUGES = {
    "open_connections": "Client connections open now (HTTP and WebSocket).",
    "max_connections": "Connections allowed at once (--max-connections), over all workers.",
    "requests_in_flight": "HTTP requests being answered now.",
    "websockets_open": "WebSocket connections open now.",
    "page_pool_queue_depth": "Pages waiting for a thread of the page pool.",
    "page_pool_busy_threads": "Threads of the page pool running a page now.",
    "page_pool_threads": "Threads the page pool may run (--threads), over all workers.",
    "workers": "Worker processes serving (with --workers).",
    "worker_resident_memory_bytes": "Resident memory of the worker processes (with --workers).",
}
COUNTERS = {
    "worker_cpu_seconds": "CPU time of the worker processes, those that exited included "
    "(with --workers).",
}

_SERVING = (WorkerState.SERVING, WorkerState.RETIRING)


def families(snapshot: Snapshot) -> Iterator[Metric]:
    """The ``krait_*`` metric families of ``snapshot``."""
    requests = CounterMetricFamily(
        "krait_http_requests",
        "HTTP requests answered, by status code and by what served them.",
        labels=["status", "kind"],
    )
    for (status, kind), count in sorted(snapshot.requests.items()):
        requests.add_metric([str(status), kind], count)
    yield requests
    latency = HistogramMetricFamily(
        "krait_http_request_duration_seconds",
        "Seconds from a request read to its last byte handed to the transport, by kind.",
        labels=["kind"],
    )
    for kind, histogram in sorted(snapshot.latency.items()):
        latency.add_metric([kind], histogram.cumulative(), histogram.total)
    yield latency
    for name, value in sorted(snapshot.gauges.items()):
        yield GaugeMetricFamily(f"krait_{name}", GAUGES.get(name, name), value=value)
    for name, value in sorted(snapshot.counters.items()):
        yield CounterMetricFamily(f"krait_{name}", COUNTERS.get(name, name), value=value)


class SnapshotCollector(Collector):
    """A prometheus-client collector of the snapshot ``source`` gives at each scrape."""

    def __init__(self, source: Callable[[], Snapshot]) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        return families(self.source())

    def describe(self) -> list[Metric]:
        return []  # nothing to check for clashes: the registry holds only this and the defaults


def metrics_registry(source: Callable[[], Snapshot]) -> CollectorRegistry:
    """A registry of krait's metrics and prometheus-client's process, platform and GC ones."""
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(source))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


class MetricsPage(Resource):
    """``/metrics`` and ``/health`` (``/healthz`` too); 404 for any other path."""

    isLeaf = True

    def __init__(self, registry: CollectorRegistry, health: Health) -> None:
        cast(Any, super()).__init__()
        self.registry = registry
        self.health = health

    def render_GET(self, request: server.Request) -> bytes:
        request.setHeader(b"cache-control", b"no-store")
        if request.path == b"/metrics":
            request.setHeader(b"content-type", CONTENT_TYPE_LATEST.encode("ascii"))
            return generate_latest(self.registry)
        if request.path in (b"/health", b"/healthz"):
            status, facts = self.health()
            request.setResponseCode(status)
            request.setHeader(b"content-type", b"application/json")
            return json.dumps(facts).encode("utf-8") + b"\n"
        return write_error(request, 404, detail="this endpoint serves /metrics and /health")


class MetricsSite(server.Site):
    """The endpoint's Site: no access log (a scrape every few seconds would fill it)."""

    noisy = False

    def __init__(self, page: MetricsPage, reactor: Any) -> None:
        cast(Any, super()).__init__(page, reactor=reactor)

    def log(self, request: Any) -> None:
        pass


@implementer(IStreamServerEndpoint)
class AnnouncingEndpoint:
    """An endpoint that logs where the metrics are served once it is bound."""

    def __init__(self, endpoint: Any, scheme: str) -> None:
        self.endpoint = endpoint
        self.scheme = scheme

    def listen(self, factory: Any) -> Deferred[IListeningPort]:
        listening: Deferred[IListeningPort] = self.endpoint.listen(factory)
        listening.addCallback(self._announce)
        return listening

    def _announce(self, port: Any) -> Any:
        place = describe(listening_at(port.getHost(), self.scheme, False))
        log.info("serving /metrics and /health on {place} (--metrics-listen)", place=place)
        return port


class MetricsService(StreamServerEndpointService):
    """Serves the endpoint; on stop it keeps answering (``/health``: 503) until ``settled``.

    Args:
        endpoint: where to listen.
        site: the :class:`MetricsSite`.
        settled: gives a Deferred that fires once the server drained (or at once).
        scheme: ``https`` for an ``ssl:`` endpoint, for the log line.
    """

    def __init__(
        self,
        endpoint: Any,
        site: MetricsSite,
        settled: Callable[[], Deferred[None]],
        scheme: str = "http",
    ) -> None:
        cast(Any, super()).__init__(AnnouncingEndpoint(endpoint, scheme), site)
        self.settled = settled

    def stopService(self) -> Deferred[None]:
        waiting = self.settled()
        waiting.addCallback(lambda _: cast(Any, super(MetricsService, self)).stopService())
        return waiting


class ProcessView:
    """What a single process's endpoint reports: its own counts and gauges.

    Args:
        factory: the site's ``KraitSite``, counting into its ``metrics``.
    """

    def __init__(self, factory: Any) -> None:
        self.factory = factory
        self.drainer = factory.drainer
        self.tally: RequestTally = factory.metrics

    def snapshot(self) -> Snapshot:
        return self.tally.snapshot(site_gauges(self.factory))

    def health(self) -> tuple[int, dict[str, Any]]:
        if self.drainer.draining:
            return 503, {"status": "draining", "requests_in_flight": self.drainer.in_flight}
        return 200, {"status": "serving"}

    def settled(self) -> Deferred[None]:
        """Fires once the drain is over (at once when none began)."""
        return drained(self.drainer)


class SupervisorView:
    """What a supervisor's endpoint reports: the sum of its workers' snapshots.

    Args:
        reactor: for the wait until every worker is gone.
        supervisor: the supervisor; it hands the workers' lines to its ``metrics``.
    """

    def __init__(self, reactor: Any, supervisor: Supervisor) -> None:
        self.reactor = reactor
        self.supervisor = supervisor
        self.totals = supervisor.metrics = WorkerTotals()
        self._gone: list[Deferred[None]] = []
        self._watch = LoopingCall(self._check_gone)
        self._watch.clock = reactor

    def serving(self) -> int:
        """How many workers serve now (a retiring one still does)."""
        return sum(1 for worker in self.supervisor.workers if worker.state in _SERVING)

    def snapshot(self) -> Snapshot:
        self.totals.retain(self.supervisor.workers)
        total = self.totals.total([("workers", self.serving())])
        for name in SITE_GAUGES:  # there from the start, before the first worker reports
            total.gauges.setdefault(name, 0.0)
        return total

    def health(self) -> tuple[int, dict[str, Any]]:
        if self.supervisor.stopping:
            return 503, {"status": "draining", "workers": len(self.supervisor.workers)}
        serving = self.serving()
        if not serving:
            return 503, {"status": "starting", "workers": 0}
        return 200, {"status": "serving", "workers": serving}

    def settled(self) -> Deferred[None]:
        """Fires once no worker is left (checked every 0.1 s)."""
        if not self.supervisor.workers:
            return succeed(None)
        gone: Deferred[None] = Deferred()
        self._gone.append(gone)
        if not self._watch.running:
            self._watch.start(0.1, now=False)
        return gone

    def _check_gone(self) -> None:
        if self.supervisor.workers:
            return
        self._watch.stop()
        waiting, self._gone = self._gone, []
        for gone in waiting:
            gone.callback(None)


def serve_metrics(description: str, reactor: Any, service: MultiService, factory: Any) -> None:
    """Serve ``/metrics`` and ``/health`` on ``description``, for a single process (whose
    ``factory.metrics`` counts) or, with ``factory`` None, for the supervisor in ``service``.

    Raises:
        SiteConfigError: the endpoint string is not valid.
    """
    view: ProcessView | SupervisorView
    if factory is None:
        supervisor = next(child for child in service if isinstance(child, Supervisor))
        view = SupervisorView(reactor, supervisor)
    else:
        view = ProcessView(factory)
    site = MetricsSite(MetricsPage(metrics_registry(view.snapshot), view.health), reactor)
    scheme = "https" if description.startswith("ssl:") else "http"
    metrics = MetricsService(_endpoint(reactor, description), site, view.settled, scheme)
    raise_bind_errors_synchronously(metrics)  # a port taken ends start-up, as for --listen
    cast(Any, metrics).setServiceParent(service)


def _endpoint(reactor: Any, description: str) -> Any:
    try:
        return serverFromString(reactor, description)
    except Exception as error:  # each endpoint parser fails in its own way
        raise SiteConfigError(
            f"--metrics-listen {description!r} is not a valid endpoint: {error}",
            hint="use a Twisted endpoint string, e.g. tcp:9100:interface=127.0.0.1",
        ) from None
