"""The WebSocket options of the command line that are flags, kept apart from :mod:`krait.tap`.

``--ws-deflate`` turns on permessage-deflate (RFC 7692); docs/websockets.md says what it costs.
"""

from __future__ import annotations

from typing import Any

__all__ = ["WS_FLAGS"]

WS_FLAGS: list[list[Any]] = [
    [
        "ws-deflate",
        None,
        "Accept permessage-deflate from WebSocket clients (up to 85 KiB per connection).",
    ],
]
