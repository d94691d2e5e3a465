"""A plain Autobahn echo server: the anchor ``bench_websockets.py`` compares krait with.

    python bench/ws_echo_anchor.py PORT

Same Autobahn options as krait's connections (16 MiB limits, no compression, close codes
instead of drops), no krait in between.
"""

from __future__ import annotations

import sys
from typing import Any

from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol

SIXTEEN_MIB = 16 * 1024 * 1024


class Echo(WebSocketServerProtocol):
    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self.sendMessage(payload, isBinary)


def main() -> None:
    from twisted.internet import reactor

    port = int(sys.argv[1])
    factory: Any = WebSocketServerFactory(f"ws://127.0.0.1:{port}", server=None)
    factory.protocol = Echo
    factory.setProtocolOptions(
        webStatus=False,
        maxMessagePayloadSize=SIXTEEN_MIB,
        maxFramePayloadSize=SIXTEEN_MIB,
        failByDrop=False,
    )
    reactor.listenTCP(port, factory, backlog=1024, interface="127.0.0.1")  # type: ignore[attr-defined]
    reactor.run()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
