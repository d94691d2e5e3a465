# /chat/socket: accepts the WebSocket upgrade of the chat page (see .py/chat_room.py), and
# answers a plain GET (no upgrade: krait.websockets.request is None) with 426 and why.
# The session is read here, at the upgrade, and is read-only from now on (docs/sessions.md).
from chat_room import ChatMemberCtrl

import krait

if krait.websockets.request is not None:
    name = krait.session.get("name")
    krait.websockets.response = krait.websockets.WebsocketsResponse(
        ChatMemberCtrl(name if isinstance(name, str) and name else None)
    )
else:
    krait.response = krait.Response(
        "HTTP/1.1",
        426,
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Cache-Control", "no-store"),
        ],
        "426 Upgrade Required: this is the chat's WebSocket; open /chat in a browser instead.\n",
    )
