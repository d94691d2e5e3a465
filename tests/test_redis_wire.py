"""What krait sends through Redis: the URL, channel names, payload types, the back-off."""

from __future__ import annotations

import pytest

from krait._ws.redis_wire import (
    ForeignPayloadError,
    RedisAddress,
    decode_payload,
    encode_payload,
    krait_channel,
    parse_redis_url,
    reconnect_delay,
    redis_channel,
)


def test_a_plain_url_gives_host_port_and_database() -> None:
    assert parse_redis_url("redis://10.0.0.5:6380/3") == RedisAddress("10.0.0.5", 6380, 3)


def test_port_and_database_default_to_6379_and_0() -> None:
    assert parse_redis_url("redis://cache") == RedisAddress("cache", 6379, 0)


def test_credentials_and_tls_are_read_and_the_password_is_never_shown() -> None:
    address = parse_redis_url("rediss://app:s%40cret@redis.example:6390/1")
    assert (address.username, address.password, address.tls) == ("app", "s@cret", True)
    assert str(address) == "rediss://redis.example:6390/1"


def test_a_password_without_a_user_name() -> None:
    address = parse_redis_url("redis://:pw@127.0.0.1/0")
    assert (address.username, address.password) == (None, "pw")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://127.0.0.1:6379", "must start with redis://"),
        ("127.0.0.1:6379", "must start with redis://"),
        ("redis://:6379/0", "names no host"),
        ("redis://127.0.0.1:port/0", "not a number from 1 to 65535"),
        ("redis://127.0.0.1:6379/zero", "database .* must be a number"),
    ],
)
def test_a_bad_url_is_refused_with_the_expected_form(url: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_redis_url(url)


def test_redis_channels_carry_the_database_so_databases_keep_sites_apart() -> None:
    zero, one = RedisAddress("h", db=0), RedisAddress("h", db=1)
    assert redis_channel(zero, "lobby") == b"krait:0:lobby"
    assert redis_channel(one, "lobby") != redis_channel(zero, "lobby")
    assert krait_channel(one, "krait:1:chat:é".encode()) == "chat:é"
    assert krait_channel(one, b"krait:0:lobby") is None
    assert krait_channel(one, b"other") is None


@pytest.mark.parametrize(
    "message", ["hello", "", "é ✓", b"", b"\x00\xff binary", b"t-looks-like-text"]
)
def test_a_payload_gives_back_the_message_and_its_type(message: str | bytes) -> None:
    decoded = decode_payload(encode_payload(message))
    assert decoded == message
    assert type(decoded) is type(message)


@pytest.mark.parametrize("payload", [b"", b"x-unknown", b"hello"])
def test_a_payload_krait_did_not_publish_is_refused(payload: bytes) -> None:
    with pytest.raises(ForeignPayloadError):
        decode_payload(payload)


def test_a_text_payload_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(ForeignPayloadError, match="UTF-8"):
        decode_payload(b"t\xff\xfe")


def test_reconnecting_backs_off_from_half_a_second_to_ten() -> None:
    delays = [reconnect_delay(attempt) for attempt in range(1, 8)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert reconnect_delay(10_000) == 10.0
