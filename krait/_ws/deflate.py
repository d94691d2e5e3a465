"""permessage-deflate (RFC 7692): which client offers krait accepts, and the bounds it sets.

Off unless ``--ws-deflate`` is given. When on, the hub's Autobahn factory calls a
:class:`DeflateAcceptor` with the client's ``permessage-deflate`` offers (browsers send one
on every WebSocket), and Autobahn then compresses what krait sends and inflates what it
receives. The bounds:

- **Memory.** krait's compressor uses a 4 KiB window (:data:`WINDOW_BITS`, 12) at memory level
  :data:`MEM_LEVEL` (5), instead of zlib's 32 KiB and 8, at a small cost in ratio
  (chat-sized messages lose nothing; repeats further apart than 4 KiB are not found). A
  client that asks for a smaller window (``server_max_window_bits``) gets it. The inflater
  takes the client's window (at most 32 KiB). Neither exists before the first compressed
  message; after a large one, a connection holds some 85 KiB more than without deflate
  (290 KiB with zlib's defaults; ``bench/bench_ws_deflate.py``).
- **Bombs.** Inflating is capped at ``--ws-max-message-size``: a message that inflates past it
  closes the connection with 1009 (Message Too Big) as soon as the cap is crossed, without
  inflating the rest.
- **The reactor.** Messages larger than :data:`MAX_DEFLATED_SEND` (64 KiB) are sent
  uncompressed (RFC 7692 lets each message choose), so that compressing never holds the
  reactor for long.
"""

from __future__ import annotations

from typing import Any

from autobahn.websocket.compress import PerMessageDeflateOffer, PerMessageDeflateOfferAccept

WINDOW_BITS = 12
"""The compressor's window: 2**12 = 4 KiB of history."""

MEM_LEVEL = 5
"""zlib's memory level for the compressor (1-9; 8 is zlib's default)."""

MAX_DEFLATED_SEND = 64 * 1024
"""Largest message krait compresses (on the reactor); larger ones go out as they are."""

# Autobahn's classes carry no annotations.
_Accept: Any = PerMessageDeflateOfferAccept


class DeflateAcceptor:
    """Autobahn's ``perMessageCompressionAccept`` hook: the first deflate offer, bounded.

    Args:
        max_message_size: the inflated size at which a message closes with 1009 (0: none).
    """

    def __init__(self, max_message_size: int) -> None:
        self.max_message_size = max_message_size or None

    def __call__(self, offers: list[Any]) -> Any:
        """The acceptance of the first ``permessage-deflate`` offer, or None for none."""
        for offer in offers:
            if isinstance(offer, PerMessageDeflateOffer):
                return _Accept(
                    offer,
                    window_bits=server_window_bits(offer.request_max_window_bits),
                    mem_level=MEM_LEVEL,
                    max_message_size=self.max_message_size,
                )
        return None


def server_window_bits(requested: int) -> int:
    """The compressor's window bits: krait's, or the smaller one the client asked for (0:
    it asked for none)."""
    return min(WINDOW_BITS, requested) if requested else WINDOW_BITS
