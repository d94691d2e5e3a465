"""Assembles a servable site: loaded configuration, worker pool, resource tree and Site."""

from __future__ import annotations

from typing import Any

from krait._bridge import WorkerPool
from krait._http import DEFAULT_MAX_BODY_SIZE, KraitSite
from krait._resource import KraitRoot
from krait._site import SiteConfig, load_site
from krait._ws_handshake import WebsocketsSettings


def build_site(
    site_root: str,
    *,
    reactor: Any,
    threads: int = 16,
    ws_threads: int = 64,
    access_log: str | None = "-",
    max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    debug: bool = False,
    ws_settings: WebsocketsSettings | None = None,
    http2: bool = True,
) -> tuple[SiteConfig, KraitSite]:
    """Load the site at ``site_root`` and build the HTTP factory that serves it.

    Raises:
        SiteConfigError: the site cannot start.
    """
    config = load_site(site_root)
    pool = WorkerPool(reactor, threads, "krait-pages")
    # The hub already gave connections a 5 s grace before the pool stops: a thread still
    # running then will not return in the next second either.
    ws_pool = WorkerPool(reactor, ws_threads, "krait-websockets", join_timeout=1.0)
    # on_in_message overrides run here, a short job per batch of messages: no thread is
    # held per connection, so --ws-threads counts connections (their controller threads).
    ws_message_pool = WorkerPool(reactor, threads, "krait-ws-messages", join_timeout=1.0)
    root = KraitRoot(
        config,
        pool,
        debug=debug,
        ws_pool=ws_pool,
        ws_settings=ws_settings,
        ws_message_pool=ws_message_pool,
    )
    site = KraitSite(
        root, access_log=access_log, max_body_size=max_body_size, reactor=reactor, http2=http2
    )
    return config, site
