"""From a twisted.web request to what a page thread is given: who sent it, and its ``RawRequest``.

Shared by the access log (``_http``), page requests (``_dispatch``) and the site's error pages
(``_error_page_writer``), so that all of them name the same client.
"""

from __future__ import annotations

from twisted.web import http

from krait._forwarded import ClientOrigin
from krait._request import RawRequest

__all__ = ["raw_request", "request_origin"]


def request_origin(request: http.Request) -> ClientOrigin:
    """Who sent ``request``: through trusted proxies for krait's requests, else the peer.

    Args:
        request: any twisted.web request; a ``KraitRequest`` knows its trusted proxies.

    Returns:
        The client's address, port and scheme (``-`` when the transport has no address).
    """
    origin = getattr(request, "origin", None)
    if origin is not None:
        found: ClientOrigin = origin()
        return found
    address = request.getClientAddress()
    scheme = "https" if request.isSecure() else "http"
    return ClientOrigin(
        getattr(address, "host", None) or "-", getattr(address, "port", None), scheme
    )


def raw_request(request: http.Request, path: str, params: dict[str, str]) -> RawRequest:
    """What a page thread needs of ``request`` (to the decoded ``path``), still undecoded.

    Args:
        request: the twisted.web request.
        path: its decoded path.
        params: the route parameters (none for an error page).
    """
    found = request_origin(request)
    return RawRequest(
        request.method,
        path,
        request.uri,
        request.clientproto,
        list(request.requestHeaders.getAllRawHeaders()),
        request.content,
        params,
        (found.address, found.port, found.scheme),
    )
