"""How the server log reaches its reader: the level shown, text or JSON lines, and under twistd
the observer twistd would have made, with krait's level and format.

``--log-level`` hides events below it (``info`` by default, so debug lines are not shown), and
``--log-format json`` writes one JSON object per line: ``time``, ``level``, ``namespace``,
``message`` (and ``traceback`` when there is one). Access lines are outside both: they are
the access log's, which ``--access-log`` and ``--no-access-log`` control, and they are written
exactly as :mod:`krait._access_log` made them (a combined-format line, or its JSON object).

Under twistd with the access log on standard output, the access lines are log events
(:class:`AccessLogEvents`), so that they go where twistd's log goes (``--logfile``, the
daemon's ``twistd.log``) with one timestamp each: their own.
"""

from __future__ import annotations

import signal
import sys
from datetime import UTC, datetime
from enum import Enum
from typing import IO, Any, cast

from twisted.logger import (
    FileLogObserver,
    FilteringLogObserver,
    ILogFilterPredicate,
    ILogObserver,
    LogEvent,
    Logger,
    LogLevel,
    LogLevelFilterPredicate,
    PredicateResult,
    eventAsText,
    formatEventAsClassicLogText,
)
from twisted.python.logfile import LogFile
from zope.interface import implementer

from krait._access_log import ACCESS_NAMESPACE, json_line
from krait._workers import call_in_reactor

LOG_LEVELS = {
    "debug": LogLevel.debug,
    "info": LogLevel.info,
    "warn": LogLevel.warn,
    "error": LogLevel.error,
}
"""The values of ``--log-level``."""


class LogFormat(Enum):
    """The values of ``--log-format``."""

    TEXT = "text"
    JSON = "json"


_access_log = Logger(namespace=ACCESS_NAMESPACE)


class AccessLogEvents:
    """A file for :class:`krait._log_writer.LogWriter` that turns each line into a log event.

    An access line is an event of namespace ``krait.access`` whose text is the line itself;
    krait's observers write it out unchanged.
    """

    def write(self, text: str) -> None:
        for line in text.splitlines():
            _access_log.info("{line}", line=line)

    def flush(self) -> None:
        """Nothing is held here."""


def is_access_line(event: LogEvent) -> bool:
    return event.get("log_namespace") == ACCESS_NAMESPACE and "line" in event


def format_text(event: LogEvent) -> str | None:
    """An event as twistd writes it (``TIME [namespace#level] text``); an access line as is."""
    if is_access_line(event):
        return f"{event['line']}\n"
    return formatEventAsClassicLogText(event)


def format_json(event: LogEvent) -> str | None:
    """An event as one JSON object on one line; an access line as is (already one)."""
    if is_access_line(event):
        return f"{event['line']}\n"
    level = event.get("log_level")
    when = event.get("log_time")
    record: dict[str, Any] = {
        "time": None if when is None else _iso(when),
        "level": getattr(level, "name", None),
        "namespace": event.get("log_namespace", "-"),
        "message": eventAsText(
            event, includeTraceback=False, includeTimestamp=False, includeSystem=False
        ),
    }
    failure = event.get("log_failure")
    if failure is not None:
        record["traceback"] = failure.getTraceback()
    return json_line(record) + "\n"


def _iso(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).isoformat(timespec="milliseconds")


_FORMATTERS = {LogFormat.TEXT: format_text, LogFormat.JSON: format_json}


LIFECYCLE_NAMESPACES = ("log_legacy", "twisted", "watchfiles", "krait.supervisor", "krait.startup")
"""Whose debug and info lines ``--reload`` hides: the chatter of processes that start and
stop on every change (ports opened and closed, signals, the open-file limit, workers)."""


@implementer(ILogFilterPredicate)
class _LifecycleQuiet:
    """Under ``--reload``, one line per reload: lifecycle lines below warn are hidden."""

    def __call__(self, event: LogEvent) -> Any:
        if event.get("log_level") not in (LogLevel.debug, LogLevel.info):
            return PredicateResult.maybe
        namespace = str(event.get("log_namespace", ""))
        for quiet in LIFECYCLE_NAMESPACES:
            if namespace == quiet or namespace.startswith(quiet + "."):
                return PredicateResult.no
        return PredicateResult.maybe


@implementer(ILogFilterPredicate)
class _AccessLinesPass:
    """Access lines are the access log's: the server log's level does not hide them."""

    def __call__(self, event: LogEvent) -> Any:
        return PredicateResult.yes if is_access_line(event) else PredicateResult.maybe


def krait_observer(
    stream: IO[Any], level: LogLevel, log_format: LogFormat, quiet_lifecycle: bool = False
) -> ILogObserver:
    """An observer writing events at ``level`` and above to ``stream`` in ``log_format``.

    ``quiet_lifecycle`` (``--reload``) hides the info lines of :data:`LIFECYCLE_NAMESPACES`,
    unless ``level`` is debug.
    """
    writer: Any = FileLogObserver(stream, _FORMATTERS[log_format])
    predicates: list[Any] = [_AccessLinesPass(), LogLevelFilterPredicate(defaultLogLevel=level)]
    if quiet_lifecycle and level is not LogLevel.debug:
        predicates.insert(1, _LifecycleQuiet())
    observer: Any = FilteringLogObserver(writer, predicates)
    return cast(ILogObserver, observer)


def twistd_log_stream(twistd_options: Any, reactor: Any) -> IO[Any] | None:
    """Where twistd would write its log, or None when it logs elsewhere than to a file.

    twistd offers no way to change the format of the log it opens, only to replace its
    observer; this chooses the same file it would, from the same options (``--logfile``,
    ``-n``, and ``twistd.log`` for a daemon, rotated on SIGUSR1 as twistd does). With
    ``--syslog`` or ``--logger`` twistd's own observer stays, and None is returned.
    """
    if twistd_options.get("syslog") or twistd_options.get("logger"):
        return None
    path = twistd_options.get("logfile") or ""
    if path == "-" or (not path and twistd_options.get("nodaemon")):
        # twistd itself refuses "-" for a daemon.
        return None if not twistd_options.get("nodaemon") else sys.stdout
    log_file: Any = LogFile.fromFullPath(path or "twistd.log")
    if not signal.getsignal(signal.SIGUSR1):
        signal.signal(
            signal.SIGUSR1, lambda number, frame: call_in_reactor(reactor, log_file.rotate)
        )
    return cast(IO[Any], log_file)
