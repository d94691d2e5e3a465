"""Who sent a request: the client behind trusted proxies, or the connection's peer.

One function, shared by the access log (``_http``), the page request (``_dispatch``) and the
site's error pages (``_error_page_writer``), so that all three name the same client.
"""

from __future__ import annotations

from twisted.web import http

from krait._forwarded import ClientOrigin

__all__ = ["request_origin"]


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
