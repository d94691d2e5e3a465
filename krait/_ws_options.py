"""The WebSocket options of the command line, kept apart from :mod:`krait.tap`.

``--ws-deflate`` turns on permessage-deflate (RFC 7692); docs/websockets.md says what it costs.
The channel options are in :mod:`krait._channel_options`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["WS_FLAGS", "WS_OPTIONS"]

WS_OPTIONS: list[list[Any]] = [
    [
        "ws-threads",
        None,
        "64",
        "Threads for WebSocket controller threads: one per open connection of a "
        "WebsocketsCtrlBase (async controllers need none).",
    ],
    [
        "ws-allowed-origins",
        None,
        None,
        "Comma-separated Origins allowed to open WebSockets (* wildcards); default all.",
    ],
    [
        "ws-max-message-size",
        None,
        str(16 * 1024 * 1024),
        "Largest WebSocket message in bytes; larger ones close with 1009.",
    ],
    ["ws-ping-interval", None, "30", "Seconds before a silent WebSocket is pinged; 0: never."],
]

WS_FLAGS: list[list[Any]] = [
    [
        "ws-deflate",
        None,
        "Accept permessage-deflate from WebSocket clients (up to 85 KiB per connection).",
    ],
]
