"""The session settings of ``krait.config``, checked and frozen at start-up.

:func:`session_settings` turns ``secret_key``, ``session_store``, ``session_max_age`` and
``session_cookie`` into a :class:`~krait._session_store.SessionSettings`, refusing values
that cannot work. Signed-cookie sessions without a ``secret_key`` stop the site at start-up
when its code uses ``krait.session``: :func:`session_uses` finds such uses in the site's
sources (``.py`` files parsed, templates searched), so the error names the file and line.
A short secret is a warning.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
from collections.abc import Iterator
from typing import Any

from krait._cookie_text import checked_name
from krait._errors import SiteConfigError, SiteWarning
from krait._session_store import MISSING_SECRET, SessionSettings

MIN_SECRET_BYTES = 32
"""A secret shorter than this (in bytes) gets a start-up warning."""

STORE_SCHEMES = ("redis://", "rediss://", "unix://")
"""The ``session_store`` URLs krait knows: Redis over TCP, TLS or a Unix socket."""

_TEMPLATE_SUFFIXES = (".html", ".htm", ".pyml", ".j2", ".jinja")
_SKIPPED_DIRS = frozenset({".git", "__pycache__", "node_modules", ".venv"})
_LARGEST_SCANNED = 1 << 20
_TEMPLATE_USE = re.compile(rb"\bkrait\.session\b")


def session_settings(
    config: Any, real_root: str, init_path: str
) -> tuple[SessionSettings, list[SiteWarning]]:
    """The site's session settings and the warnings about them.

    Args:
        config: ``krait.config`` after ``init.py`` ran.
        real_root: the site root's real path (searched for uses of ``krait.session``).
        init_path: the path of ``init.py``, named in the errors.

    Raises:
        SiteConfigError: a setting is invalid, or the site uses ``krait.session`` with
            signed cookies and no ``secret_key``.
    """
    cookie_name = config.session_cookie
    if not isinstance(cookie_name, str):
        raise _invalid("session_cookie", cookie_name, "'krait_session'", init_path)
    try:
        checked_name(cookie_name, "krait.config.session_cookie")
    except ValueError as error:
        raise _invalid("session_cookie", cookie_name, "'krait_session'", init_path) from error
    max_age = config.session_max_age
    if not isinstance(max_age, int) or isinstance(max_age, bool) or max_age <= 0:
        raise _invalid("session_max_age", max_age, "14 * 24 * 3600", init_path)
    store = config.session_store
    if store is not None and (not isinstance(store, str) or not store.startswith(STORE_SCHEMES)):
        raise _invalid("session_store", store, "'redis://localhost:6379/0'", init_path)
    if store is not None and importlib.util.find_spec("redis") is None:
        raise SiteConfigError(
            "krait.config.session_store names Redis, and the redis package is not installed",
            filename=init_path,
            hint="pip install redis (into the Python environment that runs krait)",
        )
    secrets = _secrets(config.secret_key, init_path)
    if store is None and not secrets:
        use = next(session_uses(real_root), None)
        if use is not None:
            raise SiteConfigError(
                "the site uses krait.session, and signed-cookie sessions need "
                "krait.config.secret_key, which .py/init.py does not set",
                filename=use[0],
                line=use[1],
                hint=MISSING_SECRET.partition("fix: ")[2],
            )
    warnings = [
        SiteWarning(
            f"krait.config.secret_key holds a secret of {len(_as_bytes(secret))} bytes: "
            f"under {MIN_SECRET_BYTES}, signed sessions are easier to forge",
            filename=init_path,
            hint="use `python -c 'import secrets; print(secrets.token_urlsafe(32))'` "
            "and keep it out of the site",
        )
        for secret in secrets[:1]
        if len(_as_bytes(secret)) < MIN_SECRET_BYTES
    ]
    settings = SessionSettings(cookie_name, max_age, secrets, store)
    return settings, warnings


def _secrets(value: Any, init_path: str) -> tuple[str | bytes, ...]:
    if value is None:
        return ()
    values = [value] if isinstance(value, str | bytes) else value
    if not isinstance(values, list | tuple) or not all(
        isinstance(item, str | bytes) and item for item in values
    ):
        raise _invalid("secret_key", "<hidden>", "os.environ['KRAIT_SECRET_KEY']", init_path)
    return tuple(values)


def _as_bytes(secret: str | bytes) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def _invalid(name: str, value: Any, example: str, init_path: str) -> SiteConfigError:
    shown = value if name == "secret_key" else repr(value)
    return SiteConfigError(
        f"krait.config.{name} cannot be {shown}",
        filename=init_path,
        hint=f"write e.g. krait.config.{name} = {example} in .py/init.py (see the sessions "
        "page of the manual)",
    )


def session_uses(real_root: str) -> Iterator[tuple[str, int]]:
    """Where the site's sources use ``krait.session``: ``(file, line)``, in walk order.

    ``.py`` files count ``krait.session`` and ``from krait import session``; templates
    (``.html``, ``.pyml``, Jinja2) count the text ``krait.session``.
    """
    for folder, dirs, files in os.walk(real_root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS)
        for name in sorted(files):
            path = os.path.join(folder, name)
            if name.endswith(".py"):
                yield from _python_uses(path)
            elif name.endswith(_TEMPLATE_SUFFIXES):
                yield from _template_uses(path)


def _read(path: str) -> bytes | None:
    try:
        if os.path.getsize(path) > _LARGEST_SCANNED:
            return None
        with open(path, "rb") as file:
            return file.read()
    except OSError:
        return None


def _python_uses(path: str) -> Iterator[tuple[str, int]]:
    source = _read(path)
    if source is None or b"session" not in source:
        return
    try:
        tree = ast.parse(source, path)
    except (SyntaxError, ValueError):
        return
    lines = [
        node.lineno
        for node in ast.walk(tree)
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "session"
            and isinstance(node.value, ast.Name)
            and node.value.id == "krait"
        )
        or (
            isinstance(node, ast.ImportFrom)
            and node.module == "krait"
            and any(alias.name == "session" for alias in node.names)
        )
    ]
    if lines:
        yield path, min(lines)


def _template_uses(path: str) -> Iterator[tuple[str, int]]:
    source = _read(path)
    if source is None:
        return
    found = _TEMPLATE_USE.search(source)
    if found is not None:
        yield path, source.count(b"\n", 0, found.start()) + 1
