"""What krait's channels send through Redis, decided from plain values.

- :func:`parse_redis_url`: ``krait.config.pubsub_url`` / ``--pubsub-url``
  (``redis://[[user]:password@]host[:port][/db]``, ``rediss://`` for TLS) into a
  :class:`RedisAddress`.
- :func:`redis_channel`: the Redis channel of a krait channel. Redis pub/sub ignores the
  database number, so krait puts it in the name (``krait:0:chat``): sites that keep their
  keys apart by database keep their channels apart the same way.
- :func:`encode_payload` / :func:`decode_payload`: a message and its type in one Redis
  payload. A first byte ``t`` means a text message (UTF-8 follows), ``b`` a binary one, so
  a subscriber in another worker sends the same kind of frame the publisher gave.
- :func:`reconnect_delay`: the back-off between attempts to reach Redis again.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

DEFAULT_PORT = 6379
TEXT_TAG = b"t"
BINARY_TAG = b"b"
FIRST_RETRY = 0.5
"""Seconds before the first attempt to reach Redis again."""
MAX_RETRY = 10.0
"""The delay between attempts doubles up to this many seconds."""


class ForeignPayloadError(ValueError):
    """A Redis message that krait did not publish (no type byte krait knows)."""


@dataclass(frozen=True)
class RedisAddress:
    """Where the Redis server is and how to log in.

    Attributes:
        host: its host name or address.
        port: its TCP port.
        db: the database number of the URL (it only names the channels: see the module).
        tls: connect with TLS (``rediss://``).
        username: the ACL user name, or None.
        password: the password, or None.
    """

    host: str
    port: int = DEFAULT_PORT
    db: int = 0
    tls: bool = False
    username: str | None = None
    password: str | None = None

    def __str__(self) -> str:
        """The address for log lines: never the password."""
        scheme = "rediss" if self.tls else "redis"
        return f"{scheme}://{self.host}:{self.port}/{self.db}"


def parse_redis_url(url: str) -> RedisAddress:
    """Read a ``redis://`` or ``rediss://`` URL.

    Raises:
        ValueError: it is not such a URL; the message shows the expected form.
    """
    form = "redis://[[user]:password@]host[:port][/db], e.g. redis://127.0.0.1:6379/0"
    if not isinstance(url, str):
        raise ValueError(f"the pub/sub URL is a string of the form {form}, not {url!r}")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError(f"the pub/sub URL {url!r} must start with redis:// or rediss://: {form}")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise ValueError(f"the port of {url!r} is not a number from 1 to 65535") from None
    if not parts.hostname:
        raise ValueError(f"the pub/sub URL {url!r} names no host: {form}")
    path = parts.path.strip("/")
    if path and not path.isdigit():
        raise ValueError(f"the database of {url!r} must be a number, as in {form}")
    return RedisAddress(
        host=parts.hostname,
        port=port,
        db=int(path or 0),
        tls=parts.scheme == "rediss",
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


def redis_channel(address: RedisAddress, channel: str) -> bytes:
    """The Redis channel that carries krait channel ``channel``."""
    return f"krait:{address.db}:{channel}".encode()


def krait_channel(address: RedisAddress, redis_name: bytes) -> str | None:
    """The krait channel a Redis channel carries, or None when it is not one of ours."""
    prefix = f"krait:{address.db}:".encode()
    if not redis_name.startswith(prefix):
        return None
    return redis_name[len(prefix) :].decode("utf-8", "replace")


def encode_payload(message: str | bytes) -> bytes:
    """A message and its type as one Redis payload."""
    if isinstance(message, str):
        return TEXT_TAG + message.encode("utf-8")
    return BINARY_TAG + message


def decode_payload(payload: bytes) -> str | bytes:
    """The message a payload of :func:`encode_payload` carries.

    Raises:
        ForeignPayloadError: the payload was not made by :func:`encode_payload`.
    """
    tag, body = payload[:1], payload[1:]
    if tag == BINARY_TAG:
        return body
    if tag == TEXT_TAG:
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            raise ForeignPayloadError("a text message that is not UTF-8") from None
    raise ForeignPayloadError(f"no krait type byte (starts with {payload[:8]!r})")


def reconnect_delay(attempt: int) -> float:
    """Seconds to wait before attempt number ``attempt`` (1, 2, ...) to reach Redis again:
    0.5, 1, 2, 4, 8, then 10 at most."""
    # The exponent is clamped: an outage of many attempts must not overflow the power.
    return min(MAX_RETRY, FIRST_RETRY * 2.0 ** min(32, max(0, attempt - 1)))
