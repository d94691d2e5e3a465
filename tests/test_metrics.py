"""The metrics endpoint's Twisted shells, in process: the page, the views, the reporter."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import write_site
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from twisted.application.service import MultiService
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock, StringTransport

from krait._app import build_site
from krait._errors import SiteConfigError
from krait._metrics import (
    MetricsPage,
    MetricsService,
    MetricsSite,
    ProcessView,
    SupervisorView,
    metrics_registry,
    serve_metrics,
)
from krait._metrics_options import add_metrics
from krait._metrics_report import SITE_GAUGES, WorkerReporter, site_gauges
from krait._metrics_tally import RequestTally, Snapshot
from krait._supervisor import Supervisor
from krait._worker_handle import Worker, WorkerState


@pytest.fixture
def factory(tmp_path: Path) -> Any:
    """A real KraitSite for a small site, on a memory reactor, counting requests."""
    site = write_site(tmp_path / "site", {"hello.py": "return 'hi'\n"})
    _, built = build_site(str(site), reactor=MemoryReactorClock(), access_log=None)
    built.metrics = RequestTally()
    return built


def get(site: MetricsSite, path: str) -> tuple[int, dict[str, str], bytes]:
    """GET ``path`` from ``site`` over a StringTransport: status, headers, body."""
    protocol = site.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    protocol.dataReceived(f"GET {path} HTTP/1.1\r\nHost: metrics\r\n\r\n".encode())
    head, _, body = transport.value().partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in header_lines)
    if headers.get("transfer-encoding") == "chunked":
        body = dechunk(body)
    return int(status_line.split()[1]), headers, body


def dechunk(body: bytes) -> bytes:
    whole = b""
    while body:
        size_text, _, rest = body.partition(b"\r\n")
        size = int(size_text, 16)
        whole += rest[:size]
        body = rest[size + 2 :]
    return whole


def endpoint_site(view: ProcessView | SupervisorView) -> MetricsSite:
    page = MetricsPage(metrics_registry(view.snapshot), view.health)
    return MetricsSite(page, MemoryReactorClock())


def test_a_scrape_holds_krait_s_families_and_prometheus_client_s() -> None:
    tally = RequestTally()
    tally.record(200, "script", 0.003)
    tally.record(404, "none", None)
    snapshot = tally.snapshot({"open_connections": 2}, {"worker_cpu_seconds": 1.25})
    text = generate_latest(metrics_registry(lambda: snapshot)).decode()
    families = {family.name: family for family in text_string_to_metric_families(text)}
    requests = families["krait_http_requests"]
    assert requests.type == "counter"
    assert {(s.labels["status"], s.labels["kind"], s.value) for s in requests.samples} == {
        ("200", "script", 1.0),
        ("404", "none", 1.0),
    }
    latency = families["krait_http_request_duration_seconds"]
    assert latency.type == "histogram"
    buckets = {s.labels["le"]: s.value for s in latency.samples if s.name.endswith("_bucket")}
    assert (buckets["0.0025"], buckets["0.005"], buckets["+Inf"]) == (0, 1, 1)
    assert families["krait_open_connections"].samples[0].value == 2
    assert families["krait_worker_cpu_seconds"].type == "counter"
    assert "process_cpu_seconds" in families


def test_site_gauges_reads_every_gauge_of_a_site(factory: Any) -> None:
    gauges = site_gauges(factory)
    assert tuple(gauges) == SITE_GAUGES
    assert gauges["page_pool_threads"] == 16
    assert gauges["open_connections"] == gauges["page_pool_busy_threads"] == 0


def test_health_is_200_until_the_drain_begins_then_503(factory: Any) -> None:
    site = endpoint_site(ProcessView(factory))
    status, headers, body = get(site, "/health")
    assert (status, json.loads(body)) == (200, {"status": "serving"})
    assert headers["content-type"] == "application/json"
    assert headers["cache-control"] == "no-store"
    factory.drainer.drain()
    status, _, body = get(site, "/healthz")
    assert (status, json.loads(body)) == (503, {"status": "draining", "requests_in_flight": 0})


def test_metrics_are_served_in_prometheus_s_text_format(factory: Any) -> None:
    factory.metrics.record(200, "script", 0.01)
    status, headers, body = get(endpoint_site(ProcessView(factory)), "/metrics")
    assert status == 200
    assert headers["content-type"].startswith("text/plain; version=")
    assert b'krait_http_requests_total{kind="script",status="200"} 1.0' in body


def test_any_other_path_of_the_endpoint_is_404(factory: Any) -> None:
    status, _, body = get(endpoint_site(ProcessView(factory)), "/hello.py")
    assert status == 404
    assert b"/metrics and /health" in body


def test_the_process_view_settles_at_once_without_requests_in_flight(factory: Any) -> None:
    view = ProcessView(factory)
    assert view.settled().called  # no drain began: nothing to wait for
    factory.drainer.drain()  # nothing in flight: over at once
    assert view.settled().called


def test_the_endpoint_keeps_listening_until_the_server_settled() -> None:
    reactor = MemoryReactorClock()
    settled: Deferred[None] = Deferred()
    page = MetricsPage(metrics_registry(Snapshot), lambda: (200, {}))
    service = MetricsService(
        TCP4ServerEndpoint(reactor, 9100), MetricsSite(page, reactor), lambda: settled
    )
    service.privilegedStartService()
    service.startService()
    port = reactor.tcpServers[0]
    stopping = service.stopService()
    assert not stopping.called
    settled.callback(None)
    assert stopping.called
    assert port[0] == 9100


def supervisor_with(*states: WorkerState) -> Supervisor:
    supervisor = Supervisor(Clock(), [], [], len(states), 1.0)
    for pid, state in enumerate(states, start=100):
        supervisor.workers.append(Worker(process=None, pid=pid, started=0.0, state=state))
    return supervisor


def test_a_supervisor_is_healthy_while_a_worker_serves() -> None:
    assert SupervisorView(Clock(), supervisor_with(WorkerState.STARTING)).health() == (
        503,
        {"status": "starting", "workers": 0},
    )
    serving = supervisor_with(WorkerState.SERVING, WorkerState.RETIRING, WorkerState.STARTING)
    assert SupervisorView(Clock(), serving).health() == (200, {"status": "serving", "workers": 2})
    serving.stopping = True
    assert SupervisorView(Clock(), serving).health()[0] == 503


def test_a_supervisor_adds_up_worker_lines_and_settles_when_all_are_gone() -> None:
    clock = Clock()
    supervisor = supervisor_with(WorkerState.SERVING)
    view = SupervisorView(clock, supervisor)
    tally = RequestTally()
    tally.record(200, "static", 0.001)
    supervisor.control_line(supervisor.workers[0], "metrics " + tally.snapshot().to_json())
    snapshot = view.snapshot()
    assert snapshot.requests == {(200, "static"): 1}
    assert snapshot.gauges["workers"] == 1
    assert snapshot.gauges["open_connections"] == 0  # there before any worker reports it
    settled = view.settled()
    clock.advance(0.5)
    assert not settled.called
    supervisor.workers.clear()
    clock.advance(0.1)
    assert settled.called
    assert view.snapshot().requests == {(200, "static"): 1}  # a departed worker's counts stay


def test_a_worker_reports_every_second_and_once_more_when_drained(factory: Any) -> None:
    clock = Clock()
    lines: list[str] = []
    drained: Deferred[None] = Deferred()
    reporter = WorkerReporter(clock, factory, lines.append, lambda: drained)
    reporter.startService()
    factory.metrics.record(200, "script", 0.01)
    clock.advance(1.0)
    assert len(lines) == 1
    assert Snapshot.from_json(lines[0]).requests == {(200, "script"): 1}
    factory.metrics.record(200, "script", 0.01)
    reporter.stopService()
    clock.advance(5.0)
    assert len(lines) == 1  # still draining: its last counts are not final yet
    drained.callback(None)
    assert Snapshot.from_json(lines[-1]).requests == {(200, "script"): 2}
    assert "worker_cpu_seconds" in Snapshot.from_json(lines[-1]).counters


def test_without_the_option_nothing_is_counted_or_served(factory: Any) -> None:
    factory.metrics = None
    service = MultiService()
    add_metrics({"metrics-listen": None}, MemoryReactorClock(), service, factory)
    assert factory.metrics is None
    assert list(service) == []


def test_a_worker_counts_but_serves_no_endpoint(factory: Any) -> None:
    factory.metrics = None
    service = MultiService()
    options = {"metrics-listen": "tcp:9100", "worker-fds": "3"}
    add_metrics(options, MemoryReactorClock(), service, factory)
    assert isinstance(factory.metrics, RequestTally)
    assert list(service) == []


def test_an_invalid_endpoint_is_a_site_config_error_naming_the_option(factory: Any) -> None:
    with pytest.raises(SiteConfigError, match="--metrics-listen 'tcp:no' is not a valid"):
        serve_metrics("tcp:no", MemoryReactorClock(), MultiService(), factory)
