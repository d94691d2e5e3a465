"""The demo's chat room: every open ``/chat/socket`` connection, and the broadcast to them.

The controllers are asynchronous (``WebsocketsAsyncCtrlBase``): their hooks all run on the
server's event loop, so the room's members are only ever touched from that one thread and need
no lock. ``chat_socket.py`` creates a controller per connection; they all join ``ROOM``.
"""

import json

from krait.websockets import WebsocketsAsyncCtrlBase

MAX_NAME_LENGTH = 40
MAX_TEXT_LENGTH = 1000

# Close codes from RFC 6455: 1003 for a binary message, 1008 for a text that is no chat message.
UNSUPPORTED_DATA = 1003
POLICY_VIOLATION = 1008


class NotAChatMessage(ValueError):  # noqa: N818 - named for the condition (STYLE.md)
    """A text message that is not the JSON object ``{"name": str, "text": str}``."""


def parse_chat_message(raw):
    """The ``{"name", "text"}`` of a client's message, trimmed to the room's limits.

    Args:
        raw: the text of a WebSocket message.

    Returns:
        A dict with a non-empty ``name`` (``"anonymous"`` when blank) and the ``text``, or None
        when the text is blank (nothing to show).

    Raises:
        NotAChatMessage: ``raw`` is not a JSON object with string ``name`` and ``text``.
    """
    try:
        message = json.loads(raw)
    except ValueError:
        raise NotAChatMessage('not JSON: send {"name": ..., "text": ...}') from None
    if not isinstance(message, dict):
        raise NotAChatMessage('not a JSON object: send {"name": ..., "text": ...}')
    name, text = message.get("name"), message.get("text")
    if not isinstance(name, str) or not isinstance(text, str):
        raise NotAChatMessage('"name" and "text" must both be strings')
    if not text.strip():
        return None
    name = name.strip()[:MAX_NAME_LENGTH] or "anonymous"
    return {"name": name, "text": text[:MAX_TEXT_LENGTH]}


class ChatRoom:
    """The connections that hear each other; use it on the event loop only."""

    def __init__(self):
        self._members = set()

    def __len__(self):
        return len(self._members)

    def join(self, member):
        self._members.add(member)

    def leave(self, member):
        self._members.discard(member)

    def broadcast(self, message):
        """Send a chat message (a dict) as JSON to every member whose connection is open."""
        text = json.dumps(message)
        for member in list(self._members):
            if member.is_open:
                member.send(text)


ROOM = ChatRoom()


class ChatMemberCtrl(WebsocketsAsyncCtrlBase):
    """One browser tab in the room: what it sends, every member receives (itself included)."""

    def __init__(self, room=ROOM):
        self.room = room

    def on_open(self):
        self.room.join(self)

    def on_message(self, message):
        if isinstance(message, bytes):
            self.close(UNSUPPORTED_DATA, "send text messages")
            return
        try:
            chat = parse_chat_message(message)
        except NotAChatMessage as error:
            self.close(POLICY_VIOLATION, str(error))
            return
        if chat is not None:
            self.room.broadcast(chat)

    def on_close(self, code, reason):
        self.room.leave(self)
