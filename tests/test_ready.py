"""The ready line: every address served, logged once all the ports are bound."""

from __future__ import annotations

from typing import Any

from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import Application
from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.defer import Deferred, succeed
from twisted.internet.protocol import Factory
from twisted.logger import ILogObserver, capturedLogs

from krait import __version__ as krait_version
from krait._listening import KraitService, ReadyReporter, listening_at
from krait._ready import Listening, describe, ready_line


def test_one_address_is_a_url() -> None:
    line = ready_line("0.2.0", "./site", [Listening("http", "127.0.0.1", 8080)])
    assert line == "krait 0.2.0 serving ./site on http://127.0.0.1:8080"


def test_two_addresses_are_joined_with_and() -> None:
    places = [Listening("http", "127.0.0.1", 8080), Listening("https", "127.0.0.1", 8443)]
    assert ready_line("0.2.0", "./site", places) == (
        "krait 0.2.0 serving ./site on http://127.0.0.1:8080 and https://127.0.0.1:8443"
    )


def test_more_addresses_are_listed_with_commas_then_and() -> None:
    places = [Listening("http", "10.0.0.1", port) for port in (1, 2, 3)]
    assert ready_line("1", "s", places).endswith(
        "on http://10.0.0.1:1, http://10.0.0.1:2 and http://10.0.0.1:3"
    )


def test_an_ipv6_address_is_bracketed() -> None:
    assert describe(Listening("https", "::1", 8443)) == "https://[::1]:8443"


def test_the_wildcard_addresses_say_what_they_bind() -> None:
    assert describe(Listening("http", "0.0.0.0", 80)) == "http://0.0.0.0:80 (every IPv4 address)"
    assert describe(Listening("http", "::", 80)) == "http://[::]:80 (every address)"


def test_a_unix_socket_is_named_as_one() -> None:
    place = Listening("http", unix_path="/run/krait.sock")
    assert describe(place) == "http on the unix socket /run/krait.sock"


def test_a_socket_from_systemd_says_so() -> None:
    place = Listening("http", "127.0.0.1", 8080, from_systemd=True)
    assert describe(place) == "http://127.0.0.1:8080 (a socket from systemd)"


def test_addresses_become_listenings() -> None:
    assert listening_at(IPv4Address("TCP", "127.0.0.1", 80), "http", False) == Listening(
        "http", "127.0.0.1", 80
    )
    assert listening_at(IPv6Address("TCP", "::1", 443), "https", True) == Listening(
        "https", "::1", 443, from_systemd=True
    )
    assert listening_at(UNIXAddress(b"/tmp/k.sock"), "http", False) == Listening(
        "http", unix_path="/tmp/k.sock"
    )


class FakePort:
    def __init__(self, address: Any) -> None:
        self.address = address

    def getHost(self) -> Any:
        return self.address

    def stopListening(self) -> None:
        pass


class FakeEndpoint:
    """An endpoint that binds at once, or when :meth:`bind` is called (``deferred=True``)."""

    def __init__(self, address: Any, deferred: bool = False) -> None:
        self.address = address
        self.waiting: Deferred[Any] | None = Deferred() if deferred else None

    def listen(self, factory: Any) -> Deferred[Any]:
        return self.waiting if self.waiting is not None else succeed(FakePort(self.address))

    def bind(self) -> None:
        assert self.waiting is not None
        self.waiting.callback(FakePort(self.address))


def service_for(reporter: ReadyReporter, *endpoints: Any) -> KraitService:
    service = KraitService(reporter)
    for endpoint in endpoints:
        watched = reporter.watch(endpoint, "tcp:0")
        StreamServerEndpointService(watched, Factory()).setServiceParent(service)
    return service


def ready_lines(events: list[dict[str, Any]]) -> list[str]:
    return [event["line"] for event in events if "serving" in str(event.get("line", ""))]


def test_the_line_is_logged_once_when_the_services_start() -> None:
    reporter = ReadyReporter("./site")
    service = service_for(reporter, FakeEndpoint(IPv4Address("TCP", "127.0.0.1", 8080)))
    with capturedLogs() as events:
        service.privilegedStartService()
        assert ready_lines(events) == []
        service.startService()
        service.startService()
    assert ready_lines(events) == [f"krait {krait_version} serving ./site on http://127.0.0.1:8080"]


def test_the_line_waits_for_the_last_port_and_keeps_the_order_given() -> None:
    late = FakeEndpoint(IPv4Address("TCP", "127.0.0.1", 1), deferred=True)
    early = FakeEndpoint(IPv4Address("TCP", "127.0.0.1", 2))
    service = service_for(ReadyReporter("s"), late, early)
    with capturedLogs() as events:
        service.startService()
        assert ready_lines(events) == []
        late.bind()
    assert ready_lines(events) == [
        f"krait {krait_version} serving s on http://127.0.0.1:1 and http://127.0.0.1:2"
    ]


def test_under_twistd_the_service_gives_the_application_its_log_observer() -> None:
    def observer(event: dict[str, Any]) -> None:
        pass

    application = Application("krait")
    KraitService(ReadyReporter("s"), observer).setServiceParent(application)
    assert application.getComponent(ILogObserver) is observer
