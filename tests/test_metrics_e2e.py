"""``--metrics-listen`` end to end: real clients make requests, a real scrape counts them.

Every test starts ``python -m krait`` with ``--metrics-listen`` on a port of its own, makes
requests of several kinds with requests and websocket-client, and reads ``/metrics`` with
prometheus-client's own parser, as Prometheus would.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
import websocket
from conftest import (
    REPO,
    Server,
    fetch_in_background,
    free_port,
    start_server,
    wait_for_port,
    write_site,
)
from prometheus_client.parser import text_string_to_metric_families

INIT = """\
import krait
from krait.config import Route
from krait.mvc import SimpleCtrl

krait.config.routes = [
    Route("WEBSOCKET", url="/echo", target="echo.py"),
    Route(url="/ctrl", ctrl_class=lambda: SimpleCtrl(".view/page.html", {"who": "ctrl"})),
    Route(),
]
"""

ECHO = """\
from krait.websockets import WebsocketsAsyncCtrlBase, WebsocketsResponse


class Echo(WebsocketsAsyncCtrlBase):
    async def on_message(self, message):
        self.send(message)


krait.websockets.response = WebsocketsResponse(Echo())
"""

SITE = {
    ".py/init.py": INIT,
    ".view/page.html": "<p>@ctrl.who@</p>\n",
    "echo.py": ECHO,
    "hello.py": "return 'hello'\n",
    "page.pyml": "<p>@(1 + 1)@</p>\n",
    "pid.py": "import os\nreturn str(os.getpid())\n",
    "slow.py": "import time\ntime.sleep(float(krait.request.query.get('s', '2')))\nreturn 'done'\n",
    "style.css": "p { color: red }\n",
}

DEMO_METRICS_PORT = 9100
"""Where ``make demo`` serves the demo's metrics, as its home page says."""

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return write_site(tmp_path / "site", SITE)


def start(serve: Callable[..., Server], site: Path, *args: str) -> tuple[Server, str]:
    """A server with a metrics endpoint; returns it and the endpoint's base URL."""
    metrics_port = free_port()
    server = serve(site, "--metrics-listen", f"tcp:{metrics_port}:interface=127.0.0.1", *args)
    wait_for_port(metrics_port, server.process)  # a supervisor binds the site's port first
    return server, f"http://127.0.0.1:{metrics_port}"


def scrape(base: str) -> Samples:
    """Every sample of ``/metrics``, parsed by prometheus-client's parser."""
    answer = requests.get(base + "/metrics", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def requests_counted(samples: Samples, status: str, kind: str) -> float:
    key = ("krait_http_requests_total", (("kind", kind), ("status", status)))
    return samples.get(key, 0.0)


def gauge(samples: Samples, name: str) -> float:
    return samples[(name, ())]


def scrape_until(base: str, condition: Callable[[Samples], bool], timeout: float = 30.0) -> Samples:
    """Scrape until ``condition`` holds (workers report every second); the last scrape."""
    deadline = time.monotonic() + timeout
    samples = scrape(base)
    while not condition(samples) and time.monotonic() < deadline:
        time.sleep(0.1)
        samples = scrape(base)
    return samples


def health(base: str) -> tuple[int, dict[str, object]]:
    answer = requests.get(base + "/health", timeout=10)
    return answer.status_code, json.loads(answer.text)


def get(url: str) -> requests.Response:
    """GET over a fresh connection (with workers, any worker may take it)."""
    return requests.get(url, timeout=15, headers={"Connection": "close"})


def test_requests_are_counted_by_status_and_kind(serve: Callable[..., Server], site: Path) -> None:
    server, metrics = start(serve, site)
    for path in ("/hello", "/hello", "/page.pyml", "/ctrl", "/style.css", "/missing"):
        get(server.url + path)
    client = websocket.create_connection(server.url.replace("http", "ws") + "/echo", timeout=10)
    client.send("ping")
    assert client.recv() == "ping"
    samples = scrape(metrics)
    client.close()
    assert requests_counted(samples, "200", "script") == 2
    assert requests_counted(samples, "200", "pyml") == 1
    assert requests_counted(samples, "200", "mvc") == 1
    assert requests_counted(samples, "200", "static") == 1
    assert requests_counted(samples, "404", "none") == 1
    assert requests_counted(samples, "101", "websocket") == 1
    assert gauge(samples, "krait_websockets_open") == 1


def test_each_kind_has_a_latency_histogram_counting_its_requests(
    serve: Callable[..., Server], site: Path
) -> None:
    server, metrics = start(serve, site)
    for path in ("/hello", "/hello", "/hello", "/style.css"):
        get(server.url + path)
    samples = scrape(metrics)
    histogram = "krait_http_request_duration_seconds"
    assert samples[(histogram + "_count", (("kind", "script"),))] == 3
    assert samples[(histogram + "_bucket", (("kind", "script"), ("le", "+Inf")))] == 3
    assert samples[(histogram + "_count", (("kind", "static"),))] == 1
    assert samples[(histogram + "_sum", (("kind", "script"),))] > 0


def test_gauges_show_a_page_in_flight_and_its_busy_thread(
    serve: Callable[..., Server], site: Path
) -> None:
    server, metrics = start(serve, site, "--threads", "4")
    threads, answers = fetch_in_background(server.url + "/slow?s=5")
    # A thread just started for the page counts as busy a moment before it takes the job
    # off the queue: wait for the page to be running, not merely submitted.
    busy = scrape_until(
        metrics,
        lambda s: (
            gauge(s, "krait_page_pool_busy_threads") == 1
            and gauge(s, "krait_page_pool_queue_depth") == 0
        ),
    )
    assert gauge(busy, "krait_requests_in_flight") == 1
    assert gauge(busy, "krait_open_connections") >= 1
    assert gauge(busy, "krait_page_pool_threads") == 4
    assert gauge(busy, "krait_page_pool_queue_depth") == 0
    threads[0].join(20)
    assert answers == [(200, "done")]
    idle = scrape_until(metrics, lambda s: gauge(s, "krait_page_pool_busy_threads") == 0)
    assert gauge(idle, "krait_requests_in_flight") == 0


def test_process_metrics_come_with_krait_s(serve: Callable[..., Server], site: Path) -> None:
    _, metrics = start(serve, site)
    samples = scrape(metrics)
    assert gauge(samples, "process_resident_memory_bytes") > 0
    assert any(name == "python_info" for name, _ in samples)


def test_health_is_200_while_serving_and_503_while_draining(
    serve: Callable[..., Server], site: Path
) -> None:
    server, metrics = start(serve, site)
    assert health(metrics) == (200, {"status": "serving"})
    threads, answers = fetch_in_background(server.url + "/slow?s=5")
    scrape_until(metrics, lambda s: gauge(s, "krait_requests_in_flight") == 1)
    server.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    status, facts = health(metrics)
    while status == 200 and time.monotonic() < deadline:
        time.sleep(0.05)
        status, facts = health(metrics)
    assert (status, facts) == (503, {"status": "draining", "requests_in_flight": 1})
    threads[0].join(20)
    assert answers == [(200, "done")]
    assert server.process.wait(30) == 0


def test_metrics_are_not_served_on_the_public_port(
    serve: Callable[..., Server], site: Path
) -> None:
    server, metrics = start(serve, site)
    for path in ("/metrics", "/health"):
        answer = get(server.url + path)
        assert answer.status_code == 404
        assert "krait_" not in answer.text
    assert requests_counted(scrape(metrics), "404", "none") == 2


def test_the_metrics_endpoint_answers_404_for_any_other_path(
    serve: Callable[..., Server], site: Path
) -> None:
    _, metrics = start(serve, site)
    assert get(metrics + "/hello").status_code == 404
    assert get(metrics + "/healthz").status_code == 200


def test_without_the_option_no_port_serves_metrics(
    serve: Callable[..., Server], site: Path
) -> None:
    server = serve(site)
    assert get(server.url + "/metrics").status_code == 404
    assert "--metrics-listen" not in server.stderr()


def test_an_invalid_endpoint_stops_start_up_naming_the_option(site: Path, tmp_path: Path) -> None:
    server = start_server(site, tmp_path / "log", "--metrics-listen", "nonsense:1", wait=False)
    assert server.process.wait(30) == 1
    assert "--metrics-listen 'nonsense:1' is not a valid endpoint" in server.stderr()


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_metrics_port_already_taken_stops_start_up(
    site: Path, tmp_path: Path, workers: str
) -> None:
    port = free_port()
    server = start_server(
        site,
        tmp_path / "log",
        "--metrics-listen",
        f"tcp:{port}:interface=127.0.0.1",
        "--workers",
        workers,
        port=port,
        wait=False,
    )
    assert server.process.wait(30) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in server.stderr()


def test_with_workers_the_supervisor_serves_the_sum_of_every_worker(
    serve: Callable[..., Server], site: Path
) -> None:
    """Recycled workers (--max-requests) keep their counts in the sum."""
    server, metrics = start(serve, site, "--workers", "2", "--max-requests", "12")
    pids: list[str] = []
    deadline = time.monotonic() + 60
    while (len(pids) < 40 or len(set(pids)) < 3) and time.monotonic() < deadline:
        pids.append(get(server.url + "/pid").text)
    assert len(set(pids)) >= 3  # both workers served, and one was recycled
    made = len(pids)
    samples = scrape_until(metrics, lambda s: requests_counted(s, "200", "script") == made)
    assert requests_counted(samples, "200", "script") == made
    assert samples[("krait_http_request_duration_seconds_count", (("kind", "script"),))] == made
    # Every serving worker has reported its gauges (a replacement does a second after start).
    samples = scrape_until(
        metrics,
        lambda s: (gauge(s, "krait_workers"), gauge(s, "krait_page_pool_threads")) == (2, 32),
    )
    assert gauge(samples, "krait_workers") == 2
    assert gauge(samples, "krait_page_pool_threads") == 2 * 16
    assert samples[("krait_worker_cpu_seconds_total", ())] > 0


def test_with_workers_health_is_503_while_the_supervisor_drains(
    serve: Callable[..., Server], site: Path
) -> None:
    server, metrics = start(serve, site, "--workers", "2")
    serving = (200, {"status": "serving", "workers": 2})
    deadline = time.monotonic() + 30
    while health(metrics) != serving and time.monotonic() < deadline:
        time.sleep(0.1)
    assert health(metrics) == serving
    threads, answers = fetch_in_background(server.url + "/slow?s=5")
    scrape_until(metrics, lambda s: gauge(s, "krait_requests_in_flight") == 1)
    server.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    status, facts = health(metrics)
    while status == 200 and time.monotonic() < deadline:
        time.sleep(0.05)
        status, facts = health(metrics)
    assert (status, facts["status"]) == (503, "draining")
    threads[0].join(20)
    assert answers == [(200, "done")]
    assert server.process.wait(30) == 0


def test_the_demo_counts_its_pages_as_make_demo_serves_it(tmp_path: Path) -> None:
    """``make demo``'s command line: twistd, ``--reload`` (a supervisor with one worker that
    reports to it), metrics on a port of their own."""
    metrics_port = free_port()
    server = start_server(
        REPO / "site_demo",
        tmp_path / "log",
        "--reload",
        "--metrics-listen",
        f"tcp:{metrics_port}:interface=127.0.0.1",
        twistd=True,
    )
    try:
        wait_for_port(metrics_port, server.process)
        metrics = f"http://127.0.0.1:{metrics_port}"
        for path in ("/about", "/css/site.css", "/chat/socket"):
            get(server.url + path)
        home = get(server.url + "/").text
        assert f'href="http://127.0.0.1:{DEMO_METRICS_PORT}/metrics"' in home
        makefile = (REPO / "Makefile").read_text()
        assert f"--metrics-listen tcp:{DEMO_METRICS_PORT}:interface=127.0.0.1" in makefile
        samples = scrape_until(metrics, lambda s: requests_counted(s, "200", "mvc") == 2)
        assert requests_counted(samples, "200", "mvc") == 2
        assert requests_counted(samples, "200", "static") == 1
        assert requests_counted(samples, "426", "script") == 1
        assert health(metrics) == (200, {"status": "serving", "workers": 1})
    finally:
        assert server.stop() == 0
