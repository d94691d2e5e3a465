"""The line krait logs once every port is bound: its version, the site and each address served.

``krait 0.2.0 serving ./site on http://127.0.0.1:8080 and https://127.0.0.1:8443`` tells a
new user where to point a browser, and tells a process manager's log that start-up is over.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

_WILDCARDS = {"0.0.0.0": "every IPv4 address", "::": "every address"}


@dataclass(frozen=True)
class Listening:
    """One bound port.

    Attributes:
        scheme: ``"http"``, or ``"https"`` for a TLS port.
        host: the bound IP address (empty for a unix socket).
        port: the bound port number (the real one when 0 was asked for).
        unix_path: the socket's path, for a unix socket.
        from_systemd: the socket was passed by systemd (``systemd:`` endpoints).
    """

    scheme: str
    host: str = ""
    port: int = 0
    unix_path: str = ""
    from_systemd: bool = False


def describe(place: Listening) -> str:
    """``http://127.0.0.1:8080``, ``http on the unix socket /run/krait.sock``, and so on."""
    if place.unix_path:
        text = f"{place.scheme} on the unix socket {place.unix_path}"
    else:
        host = f"[{place.host}]" if ":" in place.host else place.host
        text = f"{place.scheme}://{host}:{place.port}"
        if place.host in _WILDCARDS:
            text += f" ({_WILDCARDS[place.host]})"
    if place.from_systemd:
        text += " (a socket from systemd)"
    return text


def ready_line(version: str, site: str, places: Sequence[Listening]) -> str:
    """The whole line: ``krait 0.2.0 serving ./site on A, B and C``."""
    described = [describe(place) for place in places]
    line = f"krait {version} serving {site}"
    if not described:
        return line
    if len(described) == 1:
        return f"{line} on {described[0]}"
    return f"{line} on {', '.join(described[:-1])} and {described[-1]}"
