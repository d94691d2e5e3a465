"""Loads a site: runs ``.py/init.py`` once and freezes ``krait.config`` into a SiteConfig.

Every way a site can fail to start (missing folder, an exception in ``init.py``, a bad route,
an invalid cache regex) ends here as one :class:`SiteConfigError` naming the file, the line
and the fix.
"""

from __future__ import annotations

import copy
import os
import re
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any

import krait
from krait import _route_origins, config
from krait._caching import CacheRules
from krait._cors import CorsPolicy, compile_cors
from krait._error_pages import check_error_pages
from krait._errors import SiteConfigError, SiteWarning
from krait._routing import CompiledRoute, compile_routes
from krait._session_checks import session_settings
from krait._session_store import SessionSettings
from krait._site_checks import check_site, last_assignment

# The settings as krait.config defines them, taken before any init.py can change them, so a
# second site loaded in the same process (krait.testing) starts from the same defaults.
_CONFIG_DEFAULTS: dict[str, Any] = {
    name: copy.deepcopy(getattr(config, name))
    for name in config.__all__
    if name not in ("ConfigError", "Cors", "Route")
}


@dataclass(frozen=True)
class SiteConfig:
    """The configuration of a loaded site, frozen after ``init.py`` ran.

    Attributes:
        root: the site root as given (``krait.site_root``).
        real_root: the site root's absolute, symlink-free path.
        routes: the compiled routes, in order.
        cache_rules: the client-cache lists and max-ages.
        ssl_certificate_path: the PEM certificate from ``krait.config``, if any.
        ssl_private_key_path: the PEM key from ``krait.config``, if any.
        ssl_key_passphrase: the key's passphrase, if any.
        pubsub_url: ``krait.config.pubsub_url``: the Redis of the WebSocket channels, or
            None for channels within the process.
        warnings: what the start-up checks found (``_site_checks``); logged, not fatal.
        sessions: the ``krait.session`` settings (``_session_checks``).
        cors: the compiled ``krait.config.cors``; empty when the site shares nothing.
        error_pages: the site's own error pages, real paths by status (``_error_pages``).
    """

    root: str
    real_root: str
    routes: tuple[CompiledRoute, ...]
    cache_rules: CacheRules
    ssl_certificate_path: str | None = None
    ssl_private_key_path: str | None = None
    ssl_key_passphrase: str | None = None
    pubsub_url: str | None = None
    warnings: tuple[SiteWarning, ...] = ()
    sessions: SessionSettings = field(default_factory=SessionSettings)
    cors: tuple[CorsPolicy, ...] = ()
    error_pages: dict[int, str] = field(default_factory=dict, hash=False)


def load_site(site_root: str) -> SiteConfig:
    """Prepare the Python environment of a site and read its configuration.

    Args:
        site_root: the site folder, as the user gave it.

    Returns:
        The frozen configuration.

    Raises:
        SiteConfigError: the site cannot start; the message says where and how to fix it.
    """
    if not os.path.isdir(site_root):
        raise SiteConfigError(
            f"the site folder {site_root!r} does not exist or is not a folder",
            hint="pass the folder that holds your site, e.g. --site ./site_demo",
        )
    _reset_config()
    py_dir = os.path.join(site_root, ".py")
    if py_dir not in sys.path:
        sys.path.append(py_dir)
    krait.site_root = site_root
    init_path = os.path.join(py_dir, "init.py")
    if os.path.isfile(init_path):
        _run_init(init_path)
    return _freeze(site_root, init_path)


def _reset_config() -> None:
    for name, value in _CONFIG_DEFAULTS.items():
        setattr(config, name, copy.deepcopy(value))
    _route_origins.forget_decorated()


def _run_init(init_path: str) -> None:
    try:
        with open(init_path, "rb") as source_file:
            source = source_file.read()
        code = compile(source, init_path, "exec", dont_inherit=True)
    except SyntaxError as error:
        raise SiteConfigError(
            f"syntax error: {error.msg}",
            filename=init_path,
            line=error.lineno,
            hint="correct the Python syntax at that line",
        ) from None
    # The original ran init.py in the globals of its start-up script, where krait, os and sys
    # were already imported; sites written for it use them without importing.
    namespace: dict[str, Any] = {
        "__name__": "__krait_init__",
        "__file__": init_path,
        "krait": krait,
        "os": os,
        "sys": sys,
    }
    try:
        exec(code, namespace)
    except Exception as error:
        raise _init_error(init_path, error) from None


def _init_error(init_path: str, error: BaseException) -> SiteConfigError:
    if isinstance(error, SyntaxError) and error.filename and error.lineno:
        # A module init.py imports (a controller, a helper) does not compile: its line is
        # the one to fix, not init.py's import.
        return SiteConfigError(
            f"syntax error in a module init.py imports: {error.msg}",
            filename=error.filename,
            line=error.lineno,
            hint="correct the Python syntax at that line",
        )
    frames = traceback.extract_tb(error.__traceback__)
    site_dir = os.path.dirname(os.path.abspath(init_path))
    ours = [f for f in frames if os.path.abspath(f.filename).startswith(site_dir)]
    frame = ours[-1] if ours else (frames[-1] if frames else None)
    hint = getattr(error, "hint", None) or "fix the error above; init.py runs once at start-up"
    if isinstance(error, ImportError):
        hint = (
            "modules of the site belong in <site>/.py/ (it is on sys.path); "
            "other packages must be installed in the server's Python environment"
        )
    return SiteConfigError(
        f"init.py raised {type(error).__name__}: {error}",
        filename=frame.filename if frame else init_path,
        line=frame.lineno if frame else None,
        hint=hint,
    )


def _freeze(site_root: str, init_path: str) -> SiteConfig:
    routes = compile_routes(config.routes)
    try:
        rules = CacheRules.from_lists(
            no_store=_string_list("cache_no_store"),
            private=_string_list("cache_private"),
            public=_string_list("cache_public"),
            long_term=_string_list("cache_long_term"),
            max_age_default=_non_negative_int("cache_max_age_default"),
            max_age_long_term=_non_negative_int("cache_max_age_long_term"),
        )
    except re.error as error:
        raise SiteConfigError(
            f"a regex in the krait.config cache lists is invalid: {error.pattern!r}: {error}",
            hint="cache lists hold regular expressions that must fully match a site path, "
            r"e.g. r'css/.*\.css'",
        ) from None
    try:
        cors = compile_cors(config.cors)
    except SiteConfigError as error:
        error.filename, error.line = init_path, last_assignment(init_path, "cors")
        raise
    real_root = os.path.realpath(site_root)
    warnings = check_site(
        real_root, config.routes or [], _route_origins.decorated_routes(), init_path
    )
    sessions, session_warnings = session_settings(config, real_root, init_path)
    warnings.extend(session_warnings)
    error_pages, page_warnings = check_error_pages(config.error_pages, real_root, init_path)
    return SiteConfig(
        root=site_root,
        real_root=real_root,
        routes=routes,
        cache_rules=rules,
        ssl_certificate_path=config.ssl_certificate_path,
        ssl_private_key_path=config.ssl_private_key_path,
        ssl_key_passphrase=config.ssl_key_passphrase,
        pubsub_url=_optional_string("pubsub_url", "redis://127.0.0.1:6379/0"),
        warnings=tuple(warnings + page_warnings),
        sessions=sessions,
        cors=cors,
        error_pages=error_pages,
    )


def _string_list(name: str) -> list[str]:
    value = getattr(config, name)
    if value is None:
        return []
    if isinstance(value, str) or not all(isinstance(item, str) for item in value):
        raise SiteConfigError(
            f"krait.config.{name} must be a list of regex strings, not {value!r}",
            hint=f"write krait.config.{name} = [r'pattern', ...] in .py/init.py",
        )
    return list(value)


def _optional_string(name: str, example: str) -> str | None:
    value = getattr(config, name)
    if value is not None and not isinstance(value, str):
        raise SiteConfigError(
            f"krait.config.{name} must be a string or None, not {value!r}",
            hint=f"write e.g. krait.config.{name} = {example!r} in .py/init.py",
        )
    return value


def _non_negative_int(name: str) -> int:
    value = getattr(config, name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise SiteConfigError(
            f"krait.config.{name} must be a whole number of seconds, not {value!r}",
            hint=f"write e.g. krait.config.{name} = 300 in .py/init.py",
        )
    return value
