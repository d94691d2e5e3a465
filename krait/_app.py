"""Assembles a servable site: loaded configuration, worker pool, resource tree and Site."""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Any

from twisted.logger import Logger

from krait._access_log import combined_line
from krait._deadlines import ClientLimits
from krait._dispatch import KraitRoot
from krait._drain import DEFAULT_SHUTDOWN_TIMEOUT, Drainer
from krait._errors import SiteConfigError
from krait._forwarded import TrustedProxies
from krait._http import KraitSite
from krait._krait_request import DEFAULT_MAX_BODY_SIZE
from krait._open_files import (
    connections_fit,
    default_max_connections,
    raise_open_file_limit,
)
from krait._page_guard import PageLimits
from krait._site import SiteConfig, load_site
from krait._workers import WorkerPool
from krait._ws.handshake import WebsocketsSettings
from krait._ws.hub import WebsocketsHub
from krait._ws.pubsub import Channels
from krait._ws.redis_wire import parse_redis_url
from krait.websockets import serve_channels

log = Logger(namespace="krait")
startup_log = Logger(namespace="krait.startup")


def build_site(
    site_root: str,
    *,
    reactor: Any,
    threads: int = 16,
    ws_threads: int = 64,
    access_log: str | IO[str] | None = "-",
    access_format: Callable[..., str] = combined_line,
    trusted_proxies: TrustedProxies | None = None,
    max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    debug: bool = False,
    ws_settings: WebsocketsSettings | None = None,
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
    page_limits: PageLimits | None = None,
    http2: bool = True,
    client_limits: ClientLimits | None = None,
    max_connections: int | None = None,
    compression: bool = True,
    pubsub_url: str | None = None,
) -> tuple[SiteConfig, KraitSite]:
    """Load the site at ``site_root`` and build the HTTP factory that serves it.

    Args:
        pubsub_url: ``--pubsub-url``: the Redis of the WebSocket channels, which wins over
            ``krait.config.pubsub_url``.

    Raises:
        SiteConfigError: the site cannot start.
    """
    # At shutdown the drainer already gave pages their time (--shutdown-timeout).
    pool = WorkerPool(reactor, threads, "krait-pages", join_timeout=1.0)
    # The hub already gave connections a 5 s grace before the pool stops: a thread still
    # running then will not return in the next second either.
    ws_pool = WorkerPool(reactor, ws_threads, "krait-websockets", join_timeout=1.0)
    # on_in_message overrides run here, a short job per batch of messages: no thread is
    # held per connection, so --ws-threads counts connections (their controller threads).
    ws_message_pool = WorkerPool(reactor, threads, "krait-ws-messages", join_timeout=1.0)
    ws_hub = WebsocketsHub(reactor, ws_settings or WebsocketsSettings(), ws_pool, ws_message_pool)
    # Before init.py runs: threads it starts may publish at once.
    serve_channels(ws_hub.channels)
    config = load_site(site_root)
    for warning in config.warnings:
        log.warn("{warning}", warning=str(warning))
    use_pubsub_backend(ws_hub.channels, reactor, pubsub_url or config.pubsub_url)
    root = KraitRoot(
        config,
        pool,
        debug=debug,
        ws_hub=ws_hub,
        page_limits=page_limits,
        compression=compression,
    )
    site = KraitSite(
        root,
        access_log=access_log,
        access_format=access_format,
        trusted_proxies=trusted_proxies,
        max_body_size=max_body_size,
        reactor=reactor,
        drainer=Drainer(reactor, shutdown_timeout),
        http2=http2,
        client_limits=client_limits,
        max_connections=max_connections,
    )
    return config, site


def use_pubsub_backend(channels: Channels, reactor: Any, url: str | None) -> None:
    """Carry the site's channels through Redis at ``url``, or within the process if None.

    Raises:
        SiteConfigError: the URL is not a Redis URL, or the Redis client is not installed.
    """
    if url is not None:
        try:
            address = parse_redis_url(url)
        except ValueError as error:
            raise SiteConfigError(
                str(error), hint="set krait.config.pubsub_url (or --pubsub-url) to a Redis URL"
            ) from None
        try:
            # Optional: only sites that share channels through Redis need the client.
            from krait._ws.redis_backend import RedisBackend
        except ImportError as error:
            raise SiteConfigError(
                f"channels through Redis need the txredisapi package ({error})",
                hint="pip install txredisapi (or from a checkout: pip install './krait[redis]')",
            ) from None
        channels.use(lambda fan_out: RedisBackend(reactor, address, fan_out))
        log.info("WebSocket channels go through Redis at {address}", address=str(address))
        # Only then: the in-process backend has nothing to start or stop, and a site built
        # and never served (tests build many) must leave no trigger on the reactor.
        reactor.callWhenRunning(channels.start)


def fit_connections(max_connections: int | None) -> int:
    """Raise the open-file limit as far as allowed, and size ``--max-connections`` in it.

    Logs the limit once; warns when the connections asked for do not fit in it.

    Returns:
        ``max_connections``, or the default for the raised limit when None.
    """
    limit = raise_open_file_limit()
    if limit.error:
        log.warn(
            "cannot raise the open-file limit from {soft} to {hard}: {error}",
            soft=limit.soft,
            hard=limit.hard,
            error=limit.error,
        )
    chosen = default_max_connections(limit.soft) if max_connections is None else max_connections
    startup_log.info(
        "open-file limit {soft}{raised} (hard limit {hard}): up to {count} connections "
        "(--max-connections)",
        soft=limit.soft,
        raised=f", raised from {limit.before}" if limit.soft != limit.before else "",
        hard=limit.hard,
        count=chosen,
    )
    if not connections_fit(chosen, limit.soft):
        log.warn(
            "--max-connections {count} does not fit in the open-file limit of {soft}: each "
            "connection takes a file descriptor, and another while it is sent a file; raise the "
            "limit (LimitNOFILE= in the systemd unit, ulimit -n) or lower --max-connections",
            count=chosen,
            soft=limit.soft,
        )
    return chosen
