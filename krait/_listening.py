"""The listening services: ports bound or start-up ended, and the ready line once all are bound.

Each ``--listen`` endpoint (and ``--https``) is wrapped in a :class:`ReportingEndpoint` that
tells the :class:`ReadyReporter` what it bound; the reporter logs ``krait X serving SITE on
...`` when every port is bound and the services have started.
"""

from __future__ import annotations

import sys
from typing import Any, cast

from twisted.application.service import MultiService
from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import SSL4ServerEndpoint
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IListeningPort, IStreamServerEndpoint
from twisted.logger import ILogObserver, Logger
from twisted.python.components import Componentized
from zope.interface import implementer

import krait
from krait._errors import SiteConfigError
from krait._ready import Listening, ready_line

log = Logger(namespace="krait")


def listening_at(address: Any, scheme: str, from_systemd: bool) -> Listening:
    """What a port's ``getHost()`` says, as a :class:`Listening`."""
    if isinstance(address, UNIXAddress):
        name = address.name
        path = name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
        return Listening(scheme, unix_path=path, from_systemd=from_systemd)
    if isinstance(address, IPv4Address | IPv6Address):
        return Listening(scheme, address.host, address.port, from_systemd=from_systemd)
    return Listening(scheme, str(address), from_systemd=from_systemd)


class ReadyReporter:
    """Collects the bound ports and logs the ready line once.

    Args:
        site: the site folder as the user gave it.
        announce: log the line (a worker process leaves it to its supervisor).
    """

    def __init__(self, site: str, announce: bool = True) -> None:
        self.site = site
        self.places: list[Listening | None] = []
        self._started = False
        self._announced = not announce

    def watch(self, endpoint: Any, description: str = "") -> ReportingEndpoint:
        """Wrap ``endpoint`` (parsed from ``description``) so that it reports its port."""
        self.places.append(None)
        return ReportingEndpoint(
            endpoint,
            self,
            len(self.places) - 1,
            "https" if isinstance(endpoint, SSL4ServerEndpoint) else "http",
            description.startswith("systemd:"),
        )

    def port_bound(self, port: Any, scheme: str, from_systemd: bool = False) -> None:
        """Count a port bound elsewhere (by the supervisor, which passes it to workers)."""
        self.places.append(listening_at(port.getHost(), scheme, from_systemd))

    def bound(self, index: int, place: Listening) -> None:
        self.places[index] = place
        self._announce_if_ready()

    def services_started(self) -> None:
        """The services have started: log the line now, or when the last port is bound."""
        self._started = True
        self._announce_if_ready()

    def _announce_if_ready(self) -> None:
        if self._announced or not self._started or None in self.places:
            return
        self._announced = True
        places = [place for place in self.places if place is not None]
        log.info("{line}", line=ready_line(krait.__version__, self.site, places))


@implementer(IStreamServerEndpoint)
class ReportingEndpoint:
    """An endpoint that tells a :class:`ReadyReporter` where it listens."""

    def __init__(
        self, endpoint: Any, reporter: ReadyReporter, index: int, scheme: str, from_systemd: bool
    ) -> None:
        self.endpoint = endpoint
        self._reporter = reporter
        self._index = index
        self._scheme = scheme
        self._from_systemd = from_systemd

    def listen(self, factory: Any) -> Deferred[IListeningPort]:
        listening: Deferred[IListeningPort] = self.endpoint.listen(factory)
        listening.addCallback(self._report)
        return listening

    def _report(self, port: Any) -> Any:
        place = listening_at(port.getHost(), self._scheme, self._from_systemd)
        self._reporter.bound(self._index, place)
        return port


class KraitService(MultiService):
    """The listening services of a site; a port that cannot be bound ends the process.

    Args:
        reporter: logs the ready line once the ports are bound and the services started.
        log_observer: under twistd, the observer of the application's log (twistd's
            documented ``ILogObserver`` component), with krait's level and format.
    """

    def __init__(self, reporter: ReadyReporter, log_observer: Any = None) -> None:
        cast(Any, super()).__init__()
        self.reporter = reporter
        self.log_observer = log_observer

    def setServiceParent(self, parent: Any) -> None:
        if self.log_observer is not None and isinstance(parent, Componentized):
            parent.setComponent(ILogObserver, self.log_observer)
        cast(Any, super()).setServiceParent(parent)

    def startService(self) -> None:
        cast(Any, super()).startService()
        self.reporter.services_started()

    def privilegedStartService(self) -> None:
        try:
            cast(Any, super()).privilegedStartService()
        except CannotListenError as error:
            exit_with(
                SiteConfigError(
                    f"cannot listen on {error.interface or '*'}:{error.port}: {error.socketError}",
                    hint="choose another port (--listen, -p, --https), or stop what listens there",
                )
            )


def exit_with(error: SiteConfigError) -> None:
    """End start-up with exit status 1 and the error, which says where and how to fix it."""
    sys.stderr.write(f"krait: the site cannot start:\n{error}\n")
    sys.stderr.flush()
    raise SystemExit(1)
