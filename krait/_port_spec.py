"""The original Krait's port spec, ``-p HTTP/HTTPS``: ``8080/``, ``/8443`` or ``80/443``.

The original server took both ports in one argument, the ``/`` always present so that a lone
number is never ambiguous: the side before it is the HTTP port, the side after it the HTTPS
port, and either side may be empty but not both (``src/main.cpp``).
"""

from __future__ import annotations

from dataclasses import dataclass

_FORMS = "'8080/' (HTTP only), '/8443' (HTTPS only) or '80/443' (both)"


class InvalidPortSpec(ValueError):  # noqa: N818 - named for the condition (STYLE.md)
    """A port spec that is not ``HTTP/``, ``/HTTPS`` or ``HTTP/HTTPS``."""


@dataclass(frozen=True)
class PortSpec:
    """The ports of a port spec; None where the spec leaves that side empty."""

    http: int | None
    https: int | None


def parse_port_spec(text: str) -> PortSpec:
    """Read a port spec of the original command line.

    Args:
        text: the value of ``-p``/``--port``, e.g. ``"8080/"``, ``"/8443"``, ``"80/443"``.

    Returns:
        The HTTP and HTTPS ports it names.

    Raises:
        InvalidPortSpec: the ``/`` is missing or repeated, both sides are empty, a side is not
            a port number from 1 to 65535, or both sides name the same port.
    """
    if text.count("/") != 1:
        raise InvalidPortSpec(
            f"-p {text!r} needs exactly one '/' between the HTTP and the HTTPS port: {_FORMS}"
        )
    http_text, https_text = text.split("/")
    if not http_text and not https_text:
        raise InvalidPortSpec(f"-p {text!r} names no port: give {_FORMS}")
    http = _port(text, http_text, "HTTP")
    https = _port(text, https_text, "HTTPS")
    if http is not None and http == https:
        raise InvalidPortSpec(f"-p {text!r} names port {http} for both HTTP and HTTPS")
    return PortSpec(http=http, https=https)


def _port(spec: str, side: str, scheme: str) -> int | None:
    if not side:
        return None
    # str.isdigit alone would take '²' or Arabic-Indic digits; int() would take ' 80' or '+80'.
    number = int(side) if side.isascii() and side.isdigit() else 0
    if not 1 <= number <= 65535:
        raise InvalidPortSpec(
            f"-p {spec!r}: the {scheme} port {side!r} is not a port number from 1 to 65535"
        )
    return number
