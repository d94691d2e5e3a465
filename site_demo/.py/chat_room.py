"""The demo's chat room: the channel ``"chat"``, and what each connection to it may say.

The room is a WebSocket channel (``docs/websockets.md``), not a list kept here: a message is
published to the channel and krait hands it to every subscribed connection, in this process
or, with ``--pubsub-url`` (or ``KRAIT_DEMO_PUBSUB_URL``), in every worker and instance that
shares the Redis server. So the room works with ``--workers N`` and behind a proxy.

Who speaks is the server's to say: the name comes from the visitor's session (set by
``chat_name.py``), and the JSON ``{"name", "text"}`` that everyone receives is built here, so a
client cannot speak under another name.
"""

import json

import krait
from krait.websockets import WebsocketsAsyncCtrlBase

CHANNEL = "chat"
MAX_NAME_LENGTH = 40
MAX_TEXT_LENGTH = 1000

# Close codes from RFC 6455: 1003 for a binary message, 1008 for a text that is no chat message.
UNSUPPORTED_DATA = 1003
POLICY_VIOLATION = 1008
NO_NAME = "no name: choose one on the /chat page first"


class NotAChatMessage(ValueError):  # noqa: N818 - named for the condition (STYLE.md)
    """A text message that is not the JSON object ``{"text": str}``."""


def clean_name(raw):
    """A chat name as typed, trimmed to the room's limit; None when it is blank."""
    return raw.strip()[:MAX_NAME_LENGTH] or None


def parse_chat_text(raw):
    """The text of a client's message ``{"text": str}``, cut to the room's limit.

    Any other member (a ``"name"`` an older page sends) is ignored: the name is the session's.

    Returns:
        The text, or None when it is blank (nothing to show).

    Raises:
        NotAChatMessage: ``raw`` is not a JSON object with a string ``text``.
    """
    try:
        message = json.loads(raw)
    except ValueError:
        raise NotAChatMessage('not JSON: send {"text": ...}') from None
    if not isinstance(message, dict):
        raise NotAChatMessage('not a JSON object: send {"text": ...}')
    text = message.get("text")
    if not isinstance(text, str):
        raise NotAChatMessage('"text" must be a string')
    if not text.strip():
        return None
    return text[:MAX_TEXT_LENGTH]


class ChatMemberCtrl(WebsocketsAsyncCtrlBase):
    """One browser tab in the room: what it sends, every member hears (itself included).

    Its hooks run on the event loop; ``name`` is the session's at the upgrade, or None, and a
    connection without a name is closed as soon as it opens.
    """

    def __init__(self, name):
        self.name = name

    def on_open(self):
        if self.name is None:
            self.close(POLICY_VIOLATION, NO_NAME)
        else:
            self.subscribe(CHANNEL)

    def on_message(self, message):
        if self.name is None:
            return
        if isinstance(message, bytes):
            self.close(UNSUPPORTED_DATA, "send text messages")
            return
        try:
            text = parse_chat_text(message)
        except NotAChatMessage as error:
            self.close(POLICY_VIOLATION, str(error))
            return
        if text is not None:
            krait.websockets.publish(CHANNEL, json.dumps({"name": self.name, "text": text}))
