"""One request's session as plain values: loaded on first use, saved once, one Set-Cookie."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import write_site

from krait import Request
from krait._errors import (
    MissingSecretKeyError,
    SessionReadOnlyError,
    SessionTooLargeError,
    SiteConfigError,
)
from krait._session_checks import session_settings, session_uses
from krait._session_codec import SessionRecord
from krait._session_store import (
    DEFAULT_MAX_AGE,
    SessionManager,
    SessionSettings,
    SessionSlot,
    SignedCookieStore,
    open_store,
)

SECRET = "a secret of at least thirty-two bytes!"
SETTINGS = SessionSettings(secrets=(SECRET,))


class Clock:
    """A settable clock."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class CountingStore(SignedCookieStore):
    """The signed-cookie store, counting the loads (to see that none happened)."""

    loads = 0

    def load(self, cookie_value: str, now: int) -> SessionRecord:
        self.loads += 1
        return super().load(cookie_value, now)


def manager(settings: SessionSettings = SETTINGS) -> tuple[SessionManager, Clock]:
    clock = Clock()
    store = CountingStore(settings.secrets, settings.max_age)
    return SessionManager(settings, store, clock), clock


def request(cookie: str | None = None, scheme: str = "http") -> Request:
    headers = {"Cookie": cookie} if cookie is not None else {}
    made = Request("GET", "/", "", "HTTP/1.1", headers, b"")
    made.scheme = scheme
    return made


def value_of(set_cookie: str) -> str:
    return set_cookie.split(";")[0].partition("=")[2]


def set_cookie(slot: SessionSlot) -> str | None:
    """The Set-Cookie value the page would send, if any."""
    cookies = [value for name, value in slot.commit("closed") if name == "Set-Cookie"]
    return cookies[0] if cookies else None


def saved(sessions: SessionManager, cookie: str | None = None, **data: Any) -> str:
    """The Set-Cookie of a page that stored ``data`` in the session."""
    slot = sessions.slot(request(cookie))
    for key, value in data.items():
        slot.get()[key] = value
    header = set_cookie(slot)
    assert header is not None
    return header


def test_an_untouched_session_is_never_loaded_and_sends_no_cookie() -> None:
    sessions, _ = manager()
    first = saved(sessions, user="ada")
    slot = sessions.slot(request(f"krait_session={value_of(first)}"))
    assert slot.commit("closed") == []
    assert isinstance(sessions.store, CountingStore) and sessions.store.loads == 0


def test_a_read_session_is_not_saved_again() -> None:
    sessions, _ = manager()
    cookie = f"krait_session={value_of(saved(sessions, user='ada'))}"
    slot = sessions.slot(request(cookie))
    assert slot.get()["user"] == "ada"
    assert slot.commit("closed") == [("Vary", "Cookie")]


def test_a_changed_session_sends_one_cookie_with_the_safe_attributes() -> None:
    sessions, _ = manager()
    header = saved(sessions, user="ada")
    name, _, attributes = header.partition(";")
    assert name.startswith("krait_session=")
    assert attributes == f" Max-Age={DEFAULT_MAX_AGE}; Path=/; HttpOnly; SameSite=Lax"


def test_the_cookie_is_secure_when_the_request_came_over_https() -> None:
    sessions, _ = manager()
    slot = sessions.slot(request(scheme="https"))
    slot.get()["user"] = "ada"
    header = set_cookie(slot)
    assert header is not None and header.endswith("; SameSite=Lax; Secure")


def test_the_next_request_reads_what_the_last_one_saved() -> None:
    sessions, _ = manager()
    cookie = f"other=1; krait_session={value_of(saved(sessions, user='ada', cart=[1]))}"
    loaded = sessions.slot(request(cookie)).get()
    assert dict(loaded) == {"user": "ada", "cart": [1]}


def test_a_tampered_cookie_gives_an_empty_session_and_is_deleted() -> None:
    sessions, _ = manager()
    value = value_of(saved(sessions, user="ada"))
    tampered = value[:5] + ("A" if value[5] != "A" else "B") + value[6:]
    slot = sessions.slot(request(f"krait_session={tampered}"))
    assert dict(slot.get()) == {}
    header = set_cookie(slot)
    assert header is not None and header.startswith("krait_session=; Max-Age=0;")


def test_a_stale_cookie_of_the_same_name_does_not_hide_the_valid_one() -> None:
    """Browsers send the cookie of the most specific path first: one left at ``Path=/app``
    must not log the visitor out (nor have krait delete the valid one at ``Path=/``)."""
    sessions, _ = manager()
    valid = value_of(saved(sessions, user="ada"))
    slot = sessions.slot(request(f"krait_session=stale.1.x; krait_session={valid}"))
    assert dict(slot.get()) == {"user": "ada"}
    assert set_cookie(slot) is None


def test_only_the_first_few_cookies_of_the_session_name_are_tried() -> None:
    """A client sending hundreds of them costs a few verifications (or Redis reads), no more."""
    sessions, _ = manager()
    valid = value_of(saved(sessions, user="ada"))
    junk = "; ".join(["krait_session=junk"] * 100)
    slot = sessions.slot(request(f"{junk}; krait_session={valid}"))
    assert dict(slot.get()) == {}
    assert isinstance(sessions.store, CountingStore) and sessions.store.loads == 3


def test_an_expired_session_is_empty() -> None:
    sessions, clock = manager(SessionSettings(secrets=(SECRET,), max_age=60))
    cookie = f"krait_session={value_of(saved(sessions, user='ada'))}"
    clock.now += 61
    assert dict(sessions.slot(request(cookie)).get()) == {}


def test_touch_renews_the_lifetime_of_an_unchanged_session() -> None:
    sessions, clock = manager(SessionSettings(secrets=(SECRET,), max_age=60))
    cookie = f"krait_session={value_of(saved(sessions, user='ada'))}"
    clock.now += 50
    slot = sessions.slot(request(cookie))
    slot.get().touch()
    renewed = f"krait_session={value_of(set_cookie(slot) or '')}"
    clock.now += 50
    assert dict(sessions.slot(request(renewed)).get()) == {"user": "ada"}


def test_a_sessions_own_max_age_goes_into_its_cookie() -> None:
    sessions, clock = manager(SessionSettings(secrets=(SECRET,), max_age=60))
    slot = sessions.slot(request())
    slot.get()["user"] = "ada"
    slot.get().max_age = 3600
    header = set_cookie(slot) or ""
    assert "; Max-Age=3600;" in header
    clock.now += 600
    assert sessions.slot(request(f"krait_session={value_of(header)}")).get()["user"] == "ada"


def test_rotate_keeps_the_data_under_a_new_id_and_signature() -> None:
    sessions, _ = manager()
    before = value_of(saved(sessions, user="ada"))
    slot = sessions.slot(request(f"krait_session={before}"))
    old_id = slot.get().id
    slot.get().rotate()
    after = value_of(set_cookie(slot) or "")
    assert after != before
    loaded = sessions.slot(request(f"krait_session={after}")).get()
    assert dict(loaded) == {"user": "ada"} and loaded.id != old_id


def test_clear_deletes_the_cookie_and_new_values_start_a_new_session() -> None:
    sessions, _ = manager()
    cookie = f"krait_session={value_of(saved(sessions, user='ada'))}"
    slot = sessions.slot(request(cookie))
    old_id = slot.get().id
    slot.get().clear()
    assert set_cookie(slot) == "krait_session=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"
    again = sessions.slot(request(cookie))
    again.get().clear()
    again.get()["user"] = "bob"
    assert again.get().id not in (None, old_id)


def test_the_dict_methods_change_and_save_the_session() -> None:
    sessions, _ = manager()
    cookie = f"krait_session={value_of(saved(sessions, a=1, b=2))}"
    slot = sessions.slot(request(cookie))
    session = slot.get()
    session.update(c=3)
    assert session.pop("a") == 1 and session.setdefault("d", 4) == 4
    again = sessions.slot(request(f"krait_session={value_of(set_cookie(slot) or '')}"))
    assert dict(again.get()) == {"b": 2, "c": 3, "d": 4}


def test_clearing_a_session_the_client_never_had_sends_nothing() -> None:
    sessions, _ = manager()
    slot = sessions.slot(request())
    slot.get().clear()
    assert set_cookie(slot) is None


def test_a_session_over_the_cookie_limit_is_refused_naming_the_limit() -> None:
    sessions, _ = manager()
    slot = sessions.slot(request())
    slot.get()["big"] = "x" * 4000
    with pytest.raises(SessionTooLargeError, match=r"over the 4096 bytes.*redis://"):
        set_cookie(slot)


def test_after_commit_the_session_is_read_only_with_the_reason_given() -> None:
    sessions, _ = manager()
    slot = sessions.slot(request())
    slot.get()["user"] = "ada"
    slot.commit("the page returned")
    with pytest.raises(SessionReadOnlyError, match="the page returned"):
        slot.get()["user"] = "bob"
    late = sessions.slot(request())
    late.commit("the page returned")
    with pytest.raises(SessionReadOnlyError, match="the page returned"):
        late.get()["user"] = "bob"


def test_a_read_only_session_says_so_before_it_looks_at_the_value() -> None:
    sessions, _ = manager()
    slot = sessions.slot(request())
    slot.freeze("read-only here")
    with pytest.raises(SessionReadOnlyError):
        slot.get()["when"] = object()


def test_a_refused_value_leaves_the_session_unchanged() -> None:
    sessions, _ = manager()
    slot = sessions.slot(request())
    with pytest.raises(TypeError):
        slot.get()["when"] = object()
    assert slot.commit("closed") == [("Vary", "Cookie")]


def test_a_frozen_session_is_loaded_at_once_and_readable_but_not_writable() -> None:
    sessions, _ = manager()
    slot = sessions.slot(request(f"krait_session={value_of(saved(sessions, user='ada'))}"))
    slot.freeze("read-only on a WebSocket")
    assert isinstance(sessions.store, CountingStore) and sessions.store.loads == 1
    assert slot.get()["user"] == "ada"
    with pytest.raises(SessionReadOnlyError, match="WebSocket"):
        slot.get().rotate()
    assert set_cookie(slot) is None


def test_without_a_secret_key_first_use_fails_with_the_fix() -> None:
    sessions = open_store(SessionSettings())
    with pytest.raises(MissingSecretKeyError, match=r"secret_key.*KRAIT_SECRET_KEY"):
        sessions.slot(request()).get()


def test_settings_come_from_the_config_values() -> None:
    config = SimpleNamespace(
        session_cookie="sid",
        session_max_age=60,
        session_store=None,
        secret_key=[SECRET, "old secret that still verifies ok!!"],
    )
    settings, warnings = session_settings(config, "/nowhere", "/site/.py/init.py")
    assert settings == SessionSettings("sid", 60, (SECRET, "old secret that still verifies ok!!"))
    assert warnings == []


def _config(**changes: Any) -> SimpleNamespace:
    values: dict[str, Any] = {
        "session_cookie": "krait_session",
        "session_max_age": DEFAULT_MAX_AGE,
        "session_store": None,
        "secret_key": SECRET,
    }
    values.update(changes)
    return SimpleNamespace(**values)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("session_cookie", "bad;name"),
        ("session_cookie", 3),
        ("session_max_age", 0),
        ("session_max_age", "3600"),
        ("session_store", "memcached://localhost"),
        ("secret_key", 12345),
        ("secret_key", ""),
    ],
)
def test_invalid_settings_stop_the_site_naming_the_setting(name: str, value: Any) -> None:
    with pytest.raises(SiteConfigError, match=f"krait.config.{name}"):
        session_settings(_config(**{name: value}), "/nowhere", "init.py")


def test_a_short_secret_is_a_start_up_warning() -> None:
    _, warnings = session_settings(_config(secret_key="short"), "/nowhere", "init.py")
    assert len(warnings) == 1 and "5 bytes" in str(warnings[0])


def test_a_site_using_sessions_without_a_secret_fails_naming_file_and_line(
    tmp_path: Path,
) -> None:
    site = write_site(
        tmp_path,
        {
            "index.py": "import krait\n\nname = krait.session.get('name')\n",
            ".view/page.html": "<p>no sessions here</p>",
        },
    )
    with pytest.raises(SiteConfigError) as raised:
        session_settings(_config(secret_key=None), str(site), "init.py")
    assert raised.value.filename == str(site / "index.py") and raised.value.line == 3
    assert "secret_key" in str(raised.value) and "KRAIT_SECRET_KEY" in str(raised.value)


def test_session_uses_are_found_in_imports_and_templates_only(tmp_path: Path) -> None:
    site = write_site(
        tmp_path,
        {
            ".ctrl/login.py": "from krait import request, session\n",
            ".view/home.html.pyml": "<p>\n@krait.session.get('name')</p>",
            "other.py": "session = 1\nprint(session)\n",
            "static.css": "krait.session",
        },
    )
    assert sorted(session_uses(str(site))) == [
        (str(site / ".ctrl/login.py"), 1),
        (str(site / ".view/home.html.pyml"), 2),
    ]


def test_a_site_without_sessions_needs_no_secret(tmp_path: Path) -> None:
    site = write_site(tmp_path, {"index.py": "import krait\nkrait.response = 'hi'\n"})
    settings, _ = session_settings(_config(secret_key=None), str(site), "init.py")
    assert settings.secrets == ()


def test_redis_sessions_need_no_secret(tmp_path: Path) -> None:
    site = write_site(tmp_path, {"index.py": "import krait\nkrait.session['a'] = 1\n"})
    store = "redis://127.0.0.1:6379/0"
    settings, _ = session_settings(_config(secret_key=None, session_store=store), str(site), "i")
    assert settings.store_url == store
