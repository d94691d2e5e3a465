"""The ``twistd krait`` command line: options and the service they build."""

from __future__ import annotations

import ipaddress
import os
import platform
import sys
from typing import Any, cast

from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import MultiService
from twisted.copyright import version as twisted_version
from twisted.logger import Logger
from twisted.python import usage

import krait
from krait._channel_options import CHANNEL_OPTIONS, check_channel_options
from krait._errors import SiteConfigError
from krait._forwarded import parse_trusted_proxies
from krait._limit_options import LIMIT_OPTIONS, check_limit_options, positive_int
from krait._listening import KraitService, ReadyReporter, exit_with
from krait._log_output import LOG_LEVELS, LogFormat
from krait._metrics_options import METRICS_OPTIONS, add_metrics
from krait._port_spec import InvalidPortSpec, PortSpec, parse_port_spec
from krait._reload_options import RELOAD_FLAGS, check_reload_options
from krait._thread_policy import WORKER_SLOT_VARIABLE, apply_cpu_affinity, parse_cpu_affinity
from krait._worker_options import WORKER_OPTIONS, check_worker_options
from krait._ws_options import WS_FLAGS, WS_OPTIONS

DEFAULT_PORT = 8080
ORIGINAL = "[original Krait form]"

log = Logger()


class PortSpecError(usage.UsageError):
    """A ``-p`` value the original Krait refused too; the ``krait`` command exits with 10."""


class Options(usage.Options):
    """Options of ``twistd krait``, ``krait`` and ``python -m krait``."""

    synopsis = "--site DIR [--listen ENDPOINT]... [options]   or   -p HTTP/HTTPS [options] DIR"
    longdesc = (
        "Serve a Krait site: its routes, static files, .py scripts, Pyml templates, MVC "
        "controllers and WebSocket controllers. --listen takes Twisted endpoint strings, "
        "e.g. tcp:8080:interface=127.0.0.1, ssl:8443:privateKey=key.pem:certKey=cert.pem, "
        "unix:/tmp/krait.sock, systemd:domain=INET:index=0. "
        f"Options marked {ORIGINAL} come from the original server's command line, "
        "krait -p HTTP/HTTPS [--stdout FILE --stderr FILE] [-s] DIR (--stdout and --stderr "
        "with the krait command only), and mix freely with krait's own."
    )
    optParameters = [
        ["site", None, None, "The site folder to serve."],
        [
            "port",
            "p",
            None,
            f"{ORIGINAL} HTTP/HTTPS ports: 8080/ is --listen tcp:8080, /8443 is --https 8443, "
            "80/443 both.",
        ],
        ["https", None, None, "Serve HTTPS on this TCP port (certificate from krait.config)."],
        [
            "interface",
            None,
            None,
            "IP address that -p, --https and the default tcp:8080 bind to (default: all).",
        ],
        ["certificate", None, None, "PEM certificate (chain) for --https."],
        ["privkey", None, None, "PEM private key for --https."],
        ["threads", "t", "16", "Threads that run scripts, templates and controllers."],
        [
            "access-log",
            None,
            "-",
            "Access log file in combined format (JSON with --log-format json), '-' for stdout "
            "(under twistd: twistd's log).",
        ],
        ["log-level", None, "info", "Server log lines shown: debug, info, warn or error and up."],
        ["log-format", None, "text", "Server log lines as text, or json: one object per line."],
        ["max-body-size", None, str(100 * 1024 * 1024), "Largest request body in bytes."],
        [
            "cpu-affinity",
            None,
            "none",
            "CPUs the process runs on: none (any), auto (one per process; workers spread over "
            "the cores), or a list such as 0,1. See docs/limits.md: a CPU-bound page.",
        ],
        [
            "trusted-proxies",
            None,
            None,
            "Comma-separated addresses or networks of proxies whose Forwarded/X-Forwarded-* "
            "headers name the client (default: none).",
        ],
        *WS_OPTIONS,
        *CHANNEL_OPTIONS,
        *LIMIT_OPTIONS,
        *WORKER_OPTIONS,
        *METRICS_OPTIONS,
    ]
    optFlags = [
        ["debug", "d", "Show tracebacks in error pages (never in production)."],
        ["no-access-log", None, "Do not write an access log."],
        ["no-http2", None, "Offer only HTTP/1.1 over TLS, not HTTP/2 (ALPN)."],
        ["no-compression", None, "Never Brotli- or gzip-compress files or pages."],
        [
            "single-process",
            "s",
            f"{ORIGINAL} Accepted and ignored: krait is one process that serves with threads.",
        ],
        *RELOAD_FLAGS,
        *WS_FLAGS,
    ]

    def __init__(self) -> None:
        cast(Any, super()).__init__()
        self["listen"] = []
        self.raw_args: list[str] = []

    def parseOptions(self, options: list[str] | None = None) -> None:
        # Worker processes (--workers) are started with the same command line.
        self.raw_args = list(sys.argv[1:] if options is None else options)
        cast(Any, super()).parseOptions(options)

    def opt_listen(self, endpoint: str) -> None:
        """A Twisted server endpoint string to listen on (repeatable; default tcp:8080)."""
        self["listen"].append(endpoint)

    opt_l = opt_listen

    def opt_version(self) -> None:
        """Print krait's version (and Twisted's and Python's) and exit."""
        print(version_line())
        sys.exit(0)

    def parseArgs(self, *args: str) -> None:
        if len(args) > 1:
            raise usage.UsageError("give at most one site folder")
        if args:
            if self["site"] is not None:
                raise usage.UsageError("give the site folder either as --site or as argument")
            self["site"] = args[0]

    def postOptions(self) -> None:
        if not self["site"]:
            raise usage.UsageError("--site DIR is required: the folder of the site to serve")
        for name in ("threads", "ws-threads", "max-body-size", "ws-max-message-size"):
            self[name] = positive_int(name, self[name])
        try:
            self["ws-ping-interval"] = float(self["ws-ping-interval"])
        except ValueError:
            raise usage.UsageError("--ws-ping-interval takes a number of seconds") from None
        if self["ws-ping-interval"] < 0:
            raise usage.UsageError("--ws-ping-interval cannot be negative")
        check_limit_options(self)
        check_channel_options(self)
        try:
            self["cpu-affinity"] = parse_cpu_affinity(self["cpu-affinity"])
            self["trusted-proxies"] = parse_trusted_proxies(self["trusted-proxies"])
        except ValueError as error:
            raise usage.UsageError(str(error)) from None
        if bool(self["certificate"]) != bool(self["privkey"]):
            raise usage.UsageError("--certificate and --privkey go together")
        if self["no-access-log"]:
            self["access-log"] = None
        self["log-level"] = _choice("log-level", self["log-level"], LOG_LEVELS)
        self["log-format"] = _choice("log-format", self["log-format"], _LOG_FORMATS)
        self._resolve_ports()
        try:
            check_worker_options(self)
            check_reload_options(self)
        except ValueError as error:
            raise usage.UsageError(str(error)) from None

    def _resolve_ports(self) -> None:
        """Turn -p, --https, --interface and the default into endpoints and one HTTPS port."""
        spec = _port_spec(self["port"])
        if spec.https is not None and self["https"] is not None:
            raise usage.UsageError("give the HTTPS port either in -p or as --https, not both")
        if self["https"] is not None:
            self["https"] = positive_int("https", self["https"])
        else:
            self["https"] = spec.https
        http_ports = [] if spec.http is None else [spec.http]
        if not self["listen"] and not http_ports and self["https"] is None:
            http_ports = [DEFAULT_PORT]
        interface = self["interface"]
        if interface is not None:
            if not http_ports and self["https"] is None:
                raise usage.UsageError(
                    "--interface binds the ports of -p and --https, and there are none: "
                    "give a --listen endpoint its own, e.g. tcp:8080:interface=127.0.0.1"
                )
            self["interface"] = interface = _ip_address(interface)
        self["listen"] += [_tcp_endpoint(port, interface) for port in http_ports]


def version_line() -> str:
    """``krait 0.2.0 (Twisted 26.10.0, Python 3.11.7)``: what ``--version`` prints."""
    return (
        f"krait {krait.__version__} (Twisted {twisted_version}, Python {platform.python_version()})"
    )


def _port_spec(text: str | None) -> PortSpec:
    if text is None:
        return PortSpec(http=None, https=None)
    try:
        return parse_port_spec(text)
    except InvalidPortSpec as error:
        raise PortSpecError(str(error)) from None


def _ip_address(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise usage.UsageError(
            f"--interface takes an IP address such as 127.0.0.1 or ::1, not {text!r}"
        ) from None


def _tcp_endpoint(port: int, interface: str | None) -> str:
    if interface is None:
        return f"tcp:{port}"
    # Endpoint strings separate their arguments with ':', so an IPv6 address escapes its own.
    escaped = interface.replace(":", "\\:")
    return f"tcp:{port}:interface={escaped}"


_LOG_FORMATS = {log_format.value: log_format for log_format in LogFormat}


def _choice(name: str, value: Any, choices: dict[str, Any]) -> Any:
    if value not in choices:
        raise usage.UsageError(f"--{name} takes one of {', '.join(choices)}, not {value!r}")
    return choices[value]


def makeService(options: Options) -> MultiService:
    """Load the site and build one listening service per endpoint.

    A site that cannot start ends the process with exit status 1 and one clear message.
    """
    from krait._gc_policy import prepare_collector_for_serving

    try:
        service = build_service(options, twistd=True)
    except SiteConfigError as error:
        exit_with(error)
        raise  # unreachable: exit_with raises SystemExit
    # The site is loaded: keep collections from walking it, and make them rarer (_gc_policy).
    prepare_collector_for_serving()
    return service


def _drain(reactor: Any, factory: Any) -> Any:
    """Answer the requests in flight, then let the process exit with status 0.

    twistd re-raises the signal that stopped the reactor so that the process ends "killed by
    SIGTERM"; a server that shut down as asked has not failed, and process managers read a
    non-zero status as a crash.
    """
    from krait._twisted_compat import exit_normally_after_signal

    drained = factory.drainer.drain()
    drained.addCallback(lambda _: exit_normally_after_signal(reactor))
    return drained


def build_service(options: Options, reactor: Any = None, twistd: bool = False) -> KraitService:
    """Like :func:`makeService`, but raising :class:`SiteConfigError` for the caller.

    ``twistd`` says that twistd runs the service (and owns the log and standard output).
    """
    from twisted.internet.endpoints import SSL4ServerEndpoint

    from krait._access_log import combined_line, json_access_line
    from krait._app import build_site, fit_connections
    from krait._deadlines import ClientLimits
    from krait._listeners import https_tls_options, parse_endpoint
    from krait._log_output import AccessLogEvents, krait_observer, twistd_log_stream
    from krait._page_guard import PageLimits
    from krait._stdlib_log import forward_stdlib_logging
    from krait._tls import with_krait_profile
    from krait._twisted_compat import raise_bind_errors_synchronously
    from krait._ws.handshake import WebsocketsSettings, parse_allowed_origins

    if reactor is None:
        from twisted.internet import reactor as default_reactor

        reactor = default_reactor
    forward_stdlib_logging(options["log-level"])
    if options["workers"] <= 1 or options["worker-fds"] is not None:
        # Before any thread starts: they inherit it. The supervisor itself runs no pages.
        slot = int(os.environ.get(WORKER_SLOT_VARIABLE, "0") or 0)
        mode, cores = options["cpu-affinity"]
        cpus = apply_cpu_affinity(mode, cores, slot)
        if cpus is not None:
            log.info("running on CPU {cpus} (--cpu-affinity)", cpus=sorted(cpus))
    access_log = options["access-log"]
    log_observer = None
    if twistd:
        if access_log == "-":
            # twistd's log, not a second stream beside it: see krait._log_output.
            access_log = AccessLogEvents()
        stream = twistd_log_stream(getattr(options, "parent", None) or {}, reactor)
        if stream is not None:
            log_observer = krait_observer(
                stream, options["log-level"], options["log-format"], options["reload"]
            )
    if options["single-process"]:
        # The original forked a process per connection unless -s; krait never forks.
        log.info("-s/--single-process is ignored: krait is one process that serves with threads")
    if options["reload"] and options["worker-fds"] is None:
        from krait._reloader import build_reloader

        return add_metrics(options, reactor, build_reloader(options, reactor, log_observer))
    if options["workers"] > 1 and options["worker-fds"] is None:
        from krait._supervisor import build_supervisor

        reporter = ReadyReporter(f"{options['site']} with {options['workers']} workers")
        service = KraitService(reporter, log_observer)
        supervised = build_supervisor(options, reactor, service, reporter)
        return cast(KraitService, add_metrics(options, reactor, supervised))
    from krait._start_error_site import build_site_or_error_page

    site_config, factory = (build_site_or_error_page if options["reload"] else build_site)(
        options["site"],
        reactor=reactor,
        threads=options["threads"],
        ws_threads=options["ws-threads"],
        access_log=access_log,
        trusted_proxies=options["trusted-proxies"],
        access_format=(
            json_access_line if options["log-format"] is LogFormat.JSON else combined_line
        ),
        max_body_size=options["max-body-size"],
        debug=bool(options["debug"]),
        http2=not options["no-http2"],
        compression=not options["no-compression"],
        ws_settings=WebsocketsSettings(
            max_message_size=options["ws-max-message-size"],
            ping_interval=options["ws-ping-interval"],
            allowed_origins=parse_allowed_origins(options["ws-allowed-origins"]),
            deflate=bool(options["ws-deflate"]),
            channel_backlog=options["ws-channel-backlog"],
        ),
        pubsub_url=options["pubsub-url"],
        shutdown_timeout=options["shutdown-timeout"],
        client_limits=ClientLimits(
            header_timeout=options["header-timeout"],
            body_timeout=options["body-timeout"],
            body_min_rate=options["body-min-rate"],
            keepalive_timeout=options["keepalive-timeout"],
        ),
        max_connections=fit_connections(options["max-connections"]),
        page_limits=PageLimits(
            max_queued=options["page-queue"],
            max_queue_time=options["page-queue-time"],
            page_timeout=options["page-timeout"],
        ),
    )
    reactor.addSystemEventTrigger("before", "shutdown", _drain, reactor, factory)
    worker = options["worker-fds"] is not None
    # A worker's sockets are the supervisor's: the supervisor says where krait serves.
    reporter = ReadyReporter(options["site"], announce=not worker)
    service = KraitService(reporter, log_observer)
    add_metrics(options, reactor, service, factory)
    if worker:
        from krait._worker_process import serve_inherited

        return cast(KraitService, serve_inherited(options, site_config, factory, reactor, service))
    for description in options["listen"]:
        endpoint = parse_endpoint(reactor, description)
        endpoint = with_krait_profile(endpoint, description, http2=not options["no-http2"])
        endpoint = reporter.watch(endpoint, description)
        StreamServerEndpointService(endpoint, factory).setServiceParent(service)
    if options["https"] is not None:
        tls = https_tls_options(options, site_config)
        endpoint = SSL4ServerEndpoint(
            reactor, options["https"], tls, interface=options["interface"] or ""
        )
        endpoint = reporter.watch(endpoint)
        StreamServerEndpointService(endpoint, factory).setServiceParent(service)
    for child in service:
        # A port that cannot be bound must stop twistd, not leave it running deaf.
        raise_bind_errors_synchronously(cast(StreamServerEndpointService, child))
    return service
