"""A site of WebSocket echo controllers, shared by the WebSocket tests.

``/echo`` upgrades to a controller chosen by the ``kind`` query field (``queue``: a threaded
controller reading its queue; ``poll``: the same, polling like the original examples;
``event``: ``on_in_message`` answering in the pool; ``async``: a reactor-side controller).
``/async-echo`` is ``/echo?kind=async`` for tools that take a bare URL. With a ``tag`` field,
the controller writes ``<site>/.markers/<tag>.stopped`` when it is stopped or closed.
"""

from __future__ import annotations

from pathlib import Path

from conftest import write_site

INIT = """\
import krait
from krait.config import Route

krait.config.routes = [
    Route("WEBSOCKET", url="/echo", target="echo.py"),
    Route("WEBSOCKET", url="/async-echo", target="echo.py"),
    Route("WEBSOCKET", url="/refuse", target="refuse.py"),
    Route("WEBSOCKET", url="/not-found", target="not_found.py"),
    Route(),
]
"""

CTRLS = """\
import os
import threading
import time

import krait
from krait.websockets import WebsocketsAsyncCtrlBase, WebsocketsCtrlBase

MARKERS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".markers")


def mark(tag, what):
    if tag:
        os.makedirs(MARKERS, exist_ok=True)
        with open(os.path.join(MARKERS, f"{tag}.{what}"), "w") as file:
            file.write(what)


def answer(message):
    if message == "url?":
        return krait.request.url
    return message


class QueueEcho(WebsocketsCtrlBase):
    def __init__(self, tag=None):
        super().__init__()
        self.tag = tag

    def on_thread_start(self):
        while not self.should_stop():
            message = self.pop_in_message(timeout=1.0)
            if message == "quit":
                return
            if message == "boom":
                raise RuntimeError("a controller thread that fails")
            if isinstance(message, str) and message.startswith("push:"):
                _, target, text = message.split(":", 2)
                PUSH_TARGETS[target].push_out_message(text)
            elif message is not None:
                self.push_out_message(answer(message))

    def on_stop(self):
        super().on_stop()
        mark(self.tag, "stopped")


class PollEcho(QueueEcho):
    def on_thread_start(self):
        while not self.should_stop():
            message = self.pop_in_message()
            if message is None:
                time.sleep(0.002)
            else:
                self.push_out_message(answer(message))


class EventEcho(WebsocketsCtrlBase):
    def __init__(self, tag=None):
        super().__init__(use_in_message_queue=False)
        self.tag = tag

    def on_in_message(self, message):
        self.push_out_message(answer(message))

    def on_stop(self):
        super().on_stop()
        mark(self.tag, "stopped")


class AsyncEcho(WebsocketsAsyncCtrlBase):
    def __init__(self, tag=None):
        self.tag = tag

    async def on_message(self, message):
        from twisted.internet import reactor
        from twisted.internet.task import deferLater

        if message == "slow":
            await deferLater(reactor, 0.05, lambda: None)
        if message == "quit":
            self.close(1000)
            return
        if message == "boom":
            await deferLater(reactor, 0.01, lambda: None)
            raise RuntimeError("a hook that fails after waiting")
        self.send(answer(message))

    def on_close(self, code, reason):
        mark(self.tag, "stopped")


class SlowStart(WebsocketsCtrlBase):
    # Reads nothing for a second, reports how much queued meanwhile, then counts the rest.

    def __init__(self, tag=None):
        super().__init__()

    def on_thread_start(self):
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline and not self.should_stop():
            time.sleep(0.05)
        self.push_out_message(f"queued {self._mailbox.queued_in()}")
        count = 0
        while not self.should_stop():
            message = self.pop_in_message(timeout=1.0)
            if message is not None:
                count += 1
                if message == "last":
                    self.push_out_message(f"got {count}")


class Pusher(WebsocketsCtrlBase):
    # Pushes 64 KiB messages without pause; counts them in a marker when it stops.

    def __init__(self, tag=None):
        super().__init__()
        self.tag = tag
        self.pushed = 0

    def on_thread_start(self):
        chunk = b"p" * 65536
        while not self.should_stop():
            self.push_out_message(chunk)
            self.pushed += 1
        mark(self.tag, f"pushed-{self.pushed}")


class TinyPusher(WebsocketsCtrlBase):
    # Pushes one-byte messages as fast as a thread can.

    def __init__(self, tag=None):
        super().__init__()

    def on_thread_start(self):
        while not self.should_stop():
            self.push_out_message(b"x")


class AsyncPusher(WebsocketsAsyncCtrlBase):
    # Sends 64 KiB messages on its own, waiting for the client between them.

    def __init__(self, tag=None):
        self.tag = tag
        self.sent = 0

    async def on_open(self):
        from twisted.internet import reactor
        from twisted.internet.task import deferLater

        chunk = b"a" * 65536
        while self.is_open and self.sent < 100_000:
            self.send(chunk)
            self.sent += 1
            await self.when_writable()
            await deferLater(reactor, 0, lambda: None)

    def on_close(self, code, reason):
        mark(self.tag, f"sent-{self.sent}")


PUSH_TARGETS = {}


class PushOnly(WebsocketsCtrlBase):
    # No on_thread_start: other controllers push to it (a broadcast), as original sites did.

    def __init__(self, tag=None):
        super().__init__()
        self.tag = tag

    def on_start(self):
        PUSH_TARGETS[self.tag] = self

    def on_stop(self):
        super().on_stop()
        PUSH_TARGETS.pop(self.tag, None)
        mark(self.tag, "stopped")


class StuckCtrl(WebsocketsCtrlBase):
    # A controller thread that never looks at should_stop(): shutdown must not wait forever.

    def __init__(self, tag=None):
        super().__init__()

    def on_thread_start(self):
        while True:
            time.sleep(0.1)


class OwnThread(WebsocketsCtrlBase):
    # Written for the original: on_start runs on_thread_start in a thread of its own and
    # does not call the base, so the thread body must run exactly once.

    def __init__(self, tag=None):
        super().__init__()
        self.runs = 0

    def on_start(self):
        threading.Thread(target=self.on_thread_start, daemon=True).start()

    def on_thread_start(self):
        self.runs += 1
        self.push_out_message(f"runs={self.runs}")


class NoBaseStart(WebsocketsCtrlBase):
    # on_start never calls the base: the original never ran on_thread_start.

    def __init__(self, tag=None):
        super().__init__(use_in_message_queue=False)

    def on_start(self):
        pass

    def on_thread_start(self):
        self.push_out_message("on_thread_start ran")

    def on_in_message(self, message):
        self.push_out_message(message)


class EventTicker(WebsocketsCtrlBase):
    # Both a thread of its own and on_in_message: one WebSocket thread per connection.

    def __init__(self, tag=None):
        super().__init__(use_in_message_queue=False)

    def on_thread_start(self):
        self.push_out_message("tick")
        while not self.should_stop():
            time.sleep(0.05)

    def on_in_message(self, message):
        self.push_out_message(message)


KINDS = {"queue": QueueEcho, "poll": PollEcho, "event": EventEcho, "async": AsyncEcho}
EXTRA_KINDS = {
    "stuck": StuckCtrl,
    "push-only": PushOnly,
    "slow-start": SlowStart,
    "pusher": Pusher,
    "tiny-pusher": TinyPusher,
    "async-pusher": AsyncPusher,
    "own-thread": OwnThread,
    "no-base-start": NoBaseStart,
    "event-ticker": EventTicker,
}
"""

ECHO = """\
import ws_ctrls

ws = krait.websockets.request
if ws is None:
    krait.response = krait.Response(
        "HTTP/1.1", 200, [("Content-Type", "text/plain")], "plain GET: no upgrade"
    )
else:
    kind = krait.request.query.get("kind", "queue")
    if krait.request.url == "/async-echo":
        kind = "async"
    chosen = "echo.v1" if ws.protocols and "echo.v1" in ws.protocols else None
    ctrl = {**ws_ctrls.KINDS, **ws_ctrls.EXTRA_KINDS}[kind](krait.request.query.get("tag"))
    krait.websockets.response = krait.websockets.WebsocketsResponse(ctrl, chosen)
"""

REFUSE = """\
# Accepts nothing: krait answers 400.
"""

NOT_FOUND = """\
krait.response = krait.ResponseNotFound()
"""


def echo_site(root: Path) -> Path:
    """Write the echo site into ``root`` and return it."""
    return write_site(
        root,
        {
            ".py/init.py": INIT,
            ".py/ws_ctrls.py": CTRLS,
            "echo.py": ECHO,
            "refuse.py": REFUSE,
            "not_found.py": NOT_FOUND,
        },
    )


def marker(site: Path, tag: str) -> Path:
    """Where a controller tagged ``tag`` records that it stopped."""
    return site / ".markers" / f"{tag}.stopped"
