"""Signed session cookies as plain values: signing, verifying, expiry, tampering, ids."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac

import pytest

from krait._session_codec import (
    InvalidSessionCookieError,
    SessionRecord,
    check_value,
    decode_data,
    derive_key,
    encode_data,
    is_session_id,
    new_session_id,
    sign_record,
    verify_record,
)

KEY = derive_key("a secret of at least thirty-two bytes!")
OTHER_KEY = derive_key("another secret, also long enough here")
NOW = 1_800_000_000
DAY = 24 * 3600
RECORD = SessionRecord(new_session_id(), {"user": "ada", "cart": [1, 2], "n": None})


def test_a_signed_record_verifies_to_the_same_id_and_data() -> None:
    text = sign_record(RECORD, KEY, NOW)
    assert verify_record(text, [KEY], NOW + 10, DAY) == RECORD


def test_the_cookie_value_uses_only_url_safe_characters_and_dots() -> None:
    text = sign_record(SessionRecord(new_session_id(), {"name": "Zoë; <b>\n"}), KEY, NOW)
    assert set(text) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def test_a_changed_record_is_refused_as_tampered() -> None:
    _body, issued, signature = sign_record(RECORD, KEY, NOW).split(".")
    forged = sign_record(SessionRecord(RECORD.session_id, {"user": "admin"}), KEY, NOW)
    tampered = f"{forged.split('.')[0]}.{issued}.{signature}"
    with pytest.raises(InvalidSessionCookieError, match="bad signature"):
        verify_record(tampered, [KEY], NOW, DAY)


def test_a_changed_issue_time_is_refused_as_tampered() -> None:
    body, _issued, signature = sign_record(RECORD, KEY, NOW).split(".")
    with pytest.raises(InvalidSessionCookieError, match="bad signature"):
        verify_record(f"{body}.{NOW + DAY}.{signature}", [KEY], NOW + DAY, DAY)


def test_a_cookie_signed_with_another_key_is_refused() -> None:
    with pytest.raises(InvalidSessionCookieError, match="bad signature"):
        verify_record(sign_record(RECORD, OTHER_KEY, NOW), [KEY], NOW, DAY)


def test_every_listed_key_verifies_so_a_secret_can_be_replaced() -> None:
    signed_with_old = sign_record(RECORD, OTHER_KEY, NOW)
    assert verify_record(signed_with_old, [KEY, OTHER_KEY], NOW, DAY) == RECORD


def test_a_cookie_older_than_the_max_age_has_expired() -> None:
    text = sign_record(RECORD, KEY, NOW)
    assert verify_record(text, [KEY], NOW + DAY, DAY) == RECORD
    with pytest.raises(InvalidSessionCookieError, match="expired"):
        verify_record(text, [KEY], NOW + DAY + 1, DAY)


def test_a_sessions_own_max_age_wins_over_the_sites() -> None:
    remembered = SessionRecord(RECORD.session_id, RECORD.data, max_age=30 * DAY)
    text = sign_record(remembered, KEY, NOW)
    assert verify_record(text, [KEY], NOW + 29 * DAY, DAY) == remembered
    with pytest.raises(InvalidSessionCookieError, match="expired"):
        verify_record(text, [KEY], NOW + 31 * DAY, DAY)


@pytest.mark.parametrize(
    "text", ["", "abc", "a.b", "a.12x.c", "a..c", "é.1.x", "a.1234567890123.c", "...."]
)
def test_malformed_cookies_are_refused_without_error(text: str) -> None:
    with pytest.raises(InvalidSessionCookieError):
        verify_record(text, [KEY], NOW, DAY)


def test_a_signed_body_that_is_not_a_session_record_is_refused() -> None:
    body = base64.urlsafe_b64encode(b"[1, 2]").rstrip(b"=").decode()
    signed = f"{body}.{NOW}"
    mac = hmac.new(KEY, signed.encode(), hashlib.sha256).digest()
    signature = base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    with pytest.raises(InvalidSessionCookieError, match="not a JSON object"):
        verify_record(f"{signed}.{signature}", [KEY], NOW, DAY)


def test_keys_are_derived_for_sessions_only_and_from_str_or_bytes_alike() -> None:
    assert derive_key("s3cret") == derive_key(b"s3cret") != b"s3cret"
    assert len(derive_key("s3cret")) == 32


def test_session_ids_are_256_random_bits_in_43_url_safe_characters() -> None:
    ids = {new_session_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(is_session_id(item) for item in ids)
    assert not is_session_id("short") and not is_session_id("x" * 42 + "!")


def test_a_value_json_cannot_hold_is_refused_naming_its_key() -> None:
    with pytest.raises(TypeError, match=r"krait.session\['when'\] cannot be saved.*JSON"):
        check_value("when", datetime.date(2030, 1, 1))
    with pytest.raises(TypeError, match=r"krait.session\['tags'\]"):
        encode_data({"ok": 1, "tags": {1, 2}})


def test_keys_must_be_strings() -> None:
    with pytest.raises(TypeError, match="keys are strings"):
        check_value(1, "one")


def test_stored_json_must_be_an_object() -> None:
    assert decode_data(b'{"a": 1}') == {"a": 1}
    for bad in (b"[1]", b"not json", b"\xff"):
        with pytest.raises(InvalidSessionCookieError):
            decode_data(bad)
