"""The options of WebSocket channels: where they meet (Redis) and what a subscriber may owe.

Kept apart from :mod:`krait.tap` as the limit and worker options are; tap adds them to its
own options and calls :func:`check_channel_options` from ``postOptions``. docs/websockets.md
(Channels) describes both.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from twisted.python import usage

from krait._limit_options import positive_int
from krait._ws.handshake import DEFAULT_CHANNEL_BACKLOG
from krait._ws.redis_wire import parse_redis_url

__all__ = ["CHANNEL_OPTIONS", "check_channel_options"]

CHANNEL_OPTIONS: list[list[Any]] = [
    [
        "pubsub-url",
        None,
        None,
        "Redis URL (redis://host:port/db) that WebSocket channels go through, so that a "
        "message published in any worker or machine reaches every subscriber; wins over "
        "krait.config.pubsub_url. Default: channels stay within the process.",
    ],
    [
        "ws-channel-backlog",
        None,
        str(DEFAULT_CHANNEL_BACKLOG),
        "Bytes a WebSocket may have unsent when a channel message arrives; past it the "
        "connection closes with 1008 (a subscriber that does not read).",
    ],
]


def check_channel_options(options: MutableMapping[str, Any]) -> None:
    """Check the channel options and turn the backlog into a number, in place.

    Raises:
        usage.UsageError: the URL is not a Redis URL, or the backlog not a positive number.
    """
    options["ws-channel-backlog"] = positive_int(
        "ws-channel-backlog", options["ws-channel-backlog"]
    )
    if options["pubsub-url"] is not None:
        try:
            parse_redis_url(options["pubsub-url"])
        except ValueError as error:
            raise usage.UsageError(f"--pubsub-url: {error}") from None
