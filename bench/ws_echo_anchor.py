"""Plain Autobahn echo servers: the anchors ``bench_websockets.py`` compares krait with.

    python bench/ws_echo_anchor.py PORT            # echo on the reactor
    python bench/ws_echo_anchor.py PORT --bridge   # echo from one thread per connection

Same Autobahn options as krait's connections (16 MiB limits, no compression, close codes
instead of drops), no krait in between. ``--bridge`` is the bare minimum a threaded controller
needs: ``onMessage`` puts the message on a ``queue.Queue``, a thread per connection takes it
and hands it back with ``callFromThread``, with default thread scheduling.
"""

from __future__ import annotations

import queue
import sys
import threading
from typing import Any

from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol

SIXTEEN_MIB = 16 * 1024 * 1024


class Echo(WebSocketServerProtocol):
    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self.sendMessage(payload, isBinary)


class BridgedEcho(WebSocketServerProtocol):
    def onOpen(self) -> None:
        self.inbox: queue.Queue[tuple[bytes, bool] | None] = queue.Queue()
        threading.Thread(target=self.echo_in_thread, daemon=True).start()

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self.inbox.put((payload, isBinary))

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        if hasattr(self, "inbox"):
            self.inbox.put(None)

    def echo_in_thread(self) -> None:
        from twisted.internet import reactor

        while (message := self.inbox.get()) is not None:
            reactor.callFromThread(self.sendMessage, *message)  # type: ignore[attr-defined]


def main() -> None:
    from twisted.internet import reactor

    port = int(sys.argv[1])
    factory: Any = WebSocketServerFactory(f"ws://127.0.0.1:{port}", server=None)
    factory.protocol = BridgedEcho if "--bridge" in sys.argv[2:] else Echo
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
