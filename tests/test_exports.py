"""The public API, pinned: each public module exports exactly these names.

A name added to or dropped from a public module changes what sites may rely on; this test
makes that a decision, not an accident (Klein keeps the same test).
"""

from __future__ import annotations

import importlib

import pytest

PUBLIC = {
    "krait": [
        "NoActiveRequestError",
        "Request",
        "Response",
        "ResponseBadRequest",
        "ResponseJson",
        "ResponseNotFound",
        "ResponseRedirect",
        "config",
        "cookie",
        "extra_headers",
        "get_full_path",
        "mvc",
        "request",
        "response",
        "session",
        "set_content_type",
        "site_root",
        "websockets",
    ],
    "krait.config": [
        "ConfigError",
        "Cors",
        "Route",
        "cache_long_term",
        "cache_max_age_default",
        "cache_max_age_long_term",
        "cache_no_store",
        "cache_private",
        "cache_public",
        "cors",
        "error_pages",
        "pubsub_url",
        "routes",
        "secret_key",
        "session_cookie",
        "session_max_age",
        "session_store",
        "ssl_certificate_path",
        "ssl_key_passphrase",
        "ssl_private_key_path",
    ],
    "krait.mvc": [
        "CtrlBase",
        "SimpleCtrl",
        "ctrl_stack",
        "curr_ctrl",
        "import_ctrls_from",
        "init_ctrl",
        "pop_ctrl",
        "push_ctrl",
        "route_ctrl_decorator",
        "set_init_ctrl",
    ],
    "krait.cookie": [
        "Cookie",
        "CookieAttribute",
        "CookieDomainAttribute",
        "CookieExpiresAttribute",
        "CookieHttpOnlyAttribute",
        "CookieMaxAgeAttribute",
        "CookiePathAttribute",
        "CookieSameSiteAttribute",
        "CookieSecureAttribute",
        "get_cookie",
        "get_cookies",
        "get_response_cookies",
        "set_cookie",
    ],
    "krait.websockets": [
        "WebsocketsAsyncCtrlBase",
        "WebsocketsCtrlBase",
        "WebsocketsRequest",
        "WebsocketsResponse",
        "publish",
        "request",
        "response",
    ],
    "krait.testing": ["RunningSite", "SiteResponse", "start_site"],
}


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_public_module_exports_exactly_the_pinned_names(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert sorted(module.__all__) == PUBLIC[module_name]


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_every_exported_name_exists(module_name: str) -> None:
    module = importlib.import_module(module_name)
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []
